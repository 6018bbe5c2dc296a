// The ONNX Runtime side of bench/compare (npm onnxruntime-node, found through NODE_PATH).
// Loads the ONNX exports, then for each line on stdin, "<workload> <inputs.npy> [<out.npy>]",
// runs the workload once and prints its wall time in milliseconds.
//   node ort_worker.js THREADS NAME=MODEL.onnx...      e.g. vitb32_image=ViT-B-32.image.onnx
// (THREADS 0: ONNX Runtime's default count)
// The model of workload "vitb32_image_b8" is "vitb32_image".
"use strict";
const fs = require("fs");
const readline = require("readline");
const ort = require("onnxruntime-node");

// .npy version 1 with a little-endian float32 or int32 C-order array.
function readNpy(path) {
  const buf = fs.readFileSync(path);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.toString("latin1", 10, 10 + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").filter((s) => s.trim()).map(Number);
  const data = buf.subarray(10 + headerLength);
  const bytes = new Uint8Array(data).buffer;  // a copy, aligned
  if (descr === "<f4") return new ort.Tensor("float32", new Float32Array(bytes), shape);
  if (descr === "<i4") return new ort.Tensor("int64", BigInt64Array.from(new Int32Array(bytes), (v) => BigInt(v)), shape);
  throw new Error(`${path}: unsupported dtype ${descr}`);
}

function writeNpy(path, tensor) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${tensor.dims.join(", ")},), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const prefix = Buffer.alloc(10);
  prefix.write("\x93NUMPY", 0, "latin1");
  prefix.writeUInt8(1, 6);
  prefix.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, "latin1"), Buffer.from(tensor.data.buffer)]));
}

async function main() {
  const threads = Number(process.argv[2]);
  // No spinning between runs: an idle peer must not take CPU from the one being timed.
  const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all",
                    executionMode: "sequential", extra: { session: { intra_op: { allow_spinning: "0" } } } };
  const sessions = {};
  for (const arg of process.argv.slice(3)) {
    const [name, file] = arg.split("=");
    sessions[name] = await ort.InferenceSession.create(file, options);
  }
  console.log("ready");
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [workload, input, output] = line.trim().split(/\s+/);
    if (!workload) continue;
    const session = sessions[workload.split("_").slice(0, 2).join("_")];
    const x = readNpy(input);
    const t0 = process.hrtime.bigint();
    const result = await session.run({ [session.inputNames[0]]: x });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (output) writeNpy(output, result[session.outputNames[0]]);
    console.log(ms);
  }
}

main().catch((e) => {
  console.error(`ort_worker: ${e.message}`);
  process.exit(1);
});
