// Runs the built `clip` binary as a user would.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/clip.h"
#include "test_data.h"

namespace {

struct Result {
  int status;
  std::string output;
};

Result run_command(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

Result run(const std::string& args) { return run_command(std::string(CLIP_CLI_PATH) + " " + args + " 2>&1"); }

// The terminal column where the last field of a table line starts: UTF-8 continuation
// bytes take none, and the CJK characters the tests use (U+3000 and up) take two.
std::size_t cli_column_of_probability(const std::string& line) {
  const std::size_t at = line.find_last_of(' ') + 1;
  std::size_t column = 0;
  for (std::size_t i = 0; i < at;) {
    const auto b = static_cast<unsigned char>(line[i]);
    const std::size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    column += len == 3 && b >= 0xE3 ? 2 : 1;
    i += len;
  }
  return column;
}

}  // namespace

TEST(Cli, TokenizePrintsOneRowPerText) {
  const Result r = run("tokenize --context-length 6 'a dog' 'a cat'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "49406 320 1929 49407 0 0\n49406 320 2368 49407 0 0\n");
}

TEST(Cli, ReadmeQuickStartClassifiesTheBundledExampleOffline) {
  // The README's first command, from the repository root, with the built-in model. The
  // cache folder does not exist: nothing may be downloaded.
  const Result r = run_command(std::string("cd ") + CLIP_SOURCE_DIR + " && CLIP_CACHE_DIR=/nonexistent/clip-cache " +
                               CLIP_CLI_PATH + " classify --model demo-shapes --template \"a photo of a {}.\" " +
                               "examples/images/red-star.png --labels \"red star\" \"yellow star\" \"red circle\" " +
                               "\"blue square\" \"green triangle\" 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output,
            "examples/images/red-star.png\n"
            "  red star        0.9999\n"
            "  red circle      0.0001\n"
            "  yellow star     0.0000\n"
            "  green triangle  0.0000\n"
            "  blue square     0.0000\n");
}

TEST(Cli, TokenizeTooLongIsOneErrorLine) {
  const Result r = run("tokenize --context-length 3 'a dog'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "clip: error: Input a dog is too long for context length 3\n");
}

TEST(Cli, TokenizeJsonl) {
  const Result r = run("tokenize --jsonl --context-length 4 <<'EOF'\n\"a dog\"\n\"a big dog\"\nnot json\nEOF");
  EXPECT_EQ(r.status, 0) << r.output;
  const auto first_nl = r.output.find('\n');
  EXPECT_EQ(r.output.substr(0, first_nl), "[49406,320,1929,49407]");
  EXPECT_NE(r.output.find("{\"error\":\"Input a big dog is too long for context length 4\"}"), std::string::npos);
  EXPECT_NE(r.output.find("{\"error\":\"invalid JSON"), std::string::npos);
}

TEST(Cli, HelpVersionAndUsageErrors) {
  EXPECT_EQ(run("--help").status, 0);
  const Result version = run("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.output, "clip-cpp " CLIP_VERSION_STRING "\n");
  EXPECT_EQ(CLIP_VERSION_STRING, std::to_string(CLIP_VERSION_MAJOR) + "." + std::to_string(CLIP_VERSION_MINOR) + "." +
                                     std::to_string(CLIP_VERSION_PATCH));
  EXPECT_EQ(run("tokenize --help").status, 0);
  EXPECT_NE(run("").status, 0);
  EXPECT_NE(run("tokenize").status, 0);
  // Usage errors are one line on stderr, like the others.
  const Result bad = run("classify --precision fp16 --model demo-shapes x.png --labels a");
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.output, "clip: error: --precision: fp16 not in {fp32,bf16} (see --help)\n");
  // bf16 where oneDNN cannot do it (here: a CPU limited to AVX2) is a clear error, not a crash.
  const Result no_bf16 = run_command(std::string("ONEDNN_MAX_CPU_ISA=AVX2 ") + CLIP_CLI_PATH +
                                     " encode-text --precision bf16 --model demo-shapes --out /dev/null a 2>&1");
  EXPECT_EQ(no_bf16.status, 1);
  EXPECT_EQ(no_bf16.output,
            "clip: error: precision bf16 is not available on this CPU (oneDNN needs AVX-512 for bfloat16 matmuls); "
            "use fp32\n");
  // Issue #14: one exit status (1) for every usage error, and messages that name the mistake.
  const std::pair<const char*, const char*> usage_errors[] = {
      {"clasify", "clip: error: unknown subcommand 'clasify' (did you mean classify?) (see clip --help)\n"},
      {"classify --model demo-shapes x.png --lables a b",
       "clip: error: classify: unknown option --lables (did you mean --labels?) (see clip classify --help)\n"},
      {"classify --model demo-shapes --top 0 x.png --labels a",
       "clip: error: --top: must be at least 1, got 0 (see --help)\n"},
      {"embed x.png --model demo-shapes --threads -2 --out x.npy",
       "clip: error: --threads: must be at least 1, got -2 (see --help)\n"},
      {"tokenize --context-length 70000 a",
       "clip: error: --context-length: must be at most 65536, got 70000 (see --help)\n"},
      {"classify --labels a", "clip: error: --model is required (see --help)\n"}};
  for (const auto& [args, message] : usage_errors) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_EQ(r.output, message) << args;
  }
  for (const char* command : {"classify", "embed", "search", "encode-image", "encode-text", "models", "download"}) {
    const Result help = run(std::string(command) + " --help");
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_NE(help.output.find("Usage: clip " + std::string(command)), std::string::npos) << help.output;
  }
}

TEST(Examples, TokenizeDemoPrintsWhatTheReadmeSays) {
  const auto [status, out] = run_command(CLIP_TOKENIZE_DEMO_PATH);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.substr(0, out.find("Input")), "[3, 77] 1929\n3306 267 1002 256 \n[hello , world ! ]\n");
  EXPECT_NE(out.find(" is too long for context length 77\n49407\n"), std::string::npos);
}

TEST(Cli, PreprocessWritesNpyFiles) {
  CLIP_REQUIRE_SHARED_FILE(image_path, "fixtures/preprocess/images/noise_png_7x5.png");
  const std::string image = image_path.string();
  const auto dir = std::filesystem::temp_directory_path();
  const Result r = run("preprocess " + image + " --size 32 --out " + (dir / "clip_cli_f.npy").string() +
                       " --uint8-out " + (dir / "clip_cli_u8.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(clip::load_npy(dir / "clip_cli_f.npy").shape(), (clip::Tensor::Shape{3, 32, 32}));
  EXPECT_EQ(clip::load_npy(dir / "clip_cli_u8.npy").shape(), (clip::Tensor::Shape{32, 32, 3}));
  const Result missing = run("preprocess /nonexistent.png --out " + (dir / "x.npy").string());
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.output, "clip: error: cannot open image /nonexistent.png: No such file or directory\n");
}

TEST(Cli, InspectJsonMatchesTheFixtureConfig) {
  CLIP_REQUIRE_SHARED_FILE(models, "fixtures/models");
  for (const char* name : {"vit-b32-tiny", "rn50-tiny"}) {
    const auto dir = models / name;
    const Result r = run("inspect --json " + (dir / "model.pt").string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto got = nlohmann::json::parse(r.output);
    std::ifstream in(dir / "config.json");
    const auto expected = nlohmann::json::parse(in);
    for (const auto& [key, value] : expected["hyperparameters"].items())
      EXPECT_EQ(got[key], value) << name << " " << key;
    EXPECT_EQ(got["parameter_count"], expected["parameter_count"]) << name;
    EXPECT_EQ(got["activation"], "quick_gelu");
  }
  EXPECT_EQ(run("inspect /nonexistent.pt").status, 1);
}

TEST(Cli, ModelsListsTheNineNamesAndTheBuiltIn) {
  const Result r = run("models --root /nonexistent-cache");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.output,
            "RN50\nRN101\nRN50x4\nRN50x16\nRN50x64\nViT-B/32\nViT-B/16\nViT-L/14\nViT-L/14@336px\n"
            "demo-shapes  (built in, no download)\n");
  const Result inspect = run("inspect --json demo-shapes");
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_EQ(nlohmann::json::parse(inspect.output)["embed_dim"], 64);
}

TEST(Cli, EncodeAndClassifyMatchTheGoldens) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const auto tmp = std::filesystem::temp_directory_path();
  const std::string model = (dir / "model.pt").string();
  Result r = run("encode-image --model " + model + " --input-npy " + (dir / "images.f32.npy").string() + " --out " +
                 (tmp / "clip_cli_img.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const clip::Tensor img = clip::load_npy(tmp / "clip_cli_img.npy"),
                     golden = clip::load_npy(dir / "image_features.f32.npy");
  ASSERT_EQ(img.shape(), golden.shape());
  for (std::int64_t i = 0; i < img.numel(); ++i) EXPECT_NEAR(img.data<float>()[i], golden.data<float>()[i], 1e-3);

  r = run("encode-text --model " + model + " --normalize --out " + (tmp / "clip_cli_txt.npy").string() +
          " 'a diagram' 'a dog'");
  ASSERT_EQ(r.status, 0) << r.output;
  const clip::Tensor txt = clip::load_npy(tmp / "clip_cli_txt.npy");
  ASSERT_EQ(txt.shape(), (clip::Tensor::Shape{2, 64}));
  double norm = 0;
  for (std::int64_t i = 0; i < 64; ++i) norm += txt.data<float>()[i] * txt.data<float>()[i];
  EXPECT_NEAR(norm, 1.0, 1e-5);

  r = run("classify --json --model " + model + " " + (clip::test::shared_dir() / "assets/CLIP.png").string() +
          " --labels 'a diagram' 'a dog' 'a cat'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const clip::Tensor probs = clip::load_npy(dir / "e2e_probs.f32.npy");
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(j["probs"][i].get<double>(), probs.data<float>()[i], 1e-4);
  EXPECT_EQ(j["labels"][0], "a diagram");

  EXPECT_EQ(run("classify --model /nonexistent.pt x.png --labels a b").status, 1);
}

TEST(Examples, DemoPrintsTheReferenceProbabilities) {
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  const auto dir = clip::test::shared_dir();
  const auto [status, out] =
      run_command(std::string(CLIP_DEMO_PATH) + " " + (dir / "fixtures/models/vit-b32-tiny/model.pt").string() + " " +
                  (dir / "assets/CLIP.png").string());
  ASSERT_EQ(status, 0) << out;
  // The reference's e2e_probs for this model: [[0.02047641 0.1452044 0.8343192]]
  EXPECT_EQ(out.rfind("Label probs: [[0.02047", 0), 0u) << out;
  EXPECT_NE(out.find(" 0.14520"), std::string::npos) << out;
  EXPECT_NE(out.find(" 0.83431"), std::string::npos) << out;
}

TEST(Cli, ClassifyTopKAndPromptEnsembling) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const std::string model = (dir / "model.pt").string();
  const std::string image = (clip::test::shared_dir() / "assets/CLIP.png").string();
  const std::vector<std::string> labels = {"diagram", "dog", "cat"};
  const std::vector<std::string> templates = {"a photo of a {}.", "a drawing of a {}."};

  // The ensemble by hand: each template's features normalised, averaged, normalised again.
  auto [m, preprocess] = clip::load(model);
  std::vector<std::string> prompts;
  for (const auto& l : labels)
    for (const auto& t : templates) prompts.push_back(std::string(t).replace(t.find("{}"), 2, l));
  const clip::Tensor each = clip::normalize(m.encode_text(clip::tokenize(prompts)));
  const std::int64_t d = each.size(1);
  std::vector<float> mean(labels.size() * d);
  for (std::size_t l = 0; l < labels.size(); ++l)
    for (std::int64_t c = 0; c < d; ++c)
      mean[l * d + c] = (each.data<float>()[(2 * l) * d + c] + each.data<float>()[(2 * l + 1) * d + c]) / 2;
  const clip::Tensor text = clip::normalize(clip::Tensor::from_vector({3, d}, mean));
  const clip::Tensor img = clip::normalize(m.encode_image(clip::stack({preprocess(clip::Image::open(image))})));
  std::vector<float> logits(3);
  for (int l = 0; l < 3; ++l) {
    double dot = 0;
    for (std::int64_t c = 0; c < d; ++c) dot += img.data<float>()[c] * text.data<float>()[l * d + c];
    logits[l] = static_cast<float>(dot * std::exp(m.logit_scale()));
  }
  const std::vector<float> expected = clip::softmax(clip::Tensor::from_vector({1, 3}, logits)).to_vector<float>();

  Result r =
      run("classify --json --model " + model + " --template 'a photo of a {}.' --template 'a drawing of a {}.' " +
          image + " --labels diagram dog cat");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(j["probs"][i].get<double>(), expected[i], 1e-5) << i;

  // --top 2: the two most probable, best first, in the table and in JSON.
  std::vector<std::size_t> order = {0, 1, 2};
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return expected[a] > expected[b]; });
  r = run("classify --top 2 --json --model " + model +
          " --template 'a photo of a {}.' --template 'a drawing of a {}.' " + image + " --labels diagram dog cat");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["labels"].size(), 2u);
  EXPECT_EQ(j["labels"][0], labels[order[0]]);
  EXPECT_EQ(j["labels"][1], labels[order[1]]);
  r = run("classify --top 1 --model " + model + " " + image + " " + image + " --labels diagram dog cat");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 4) << r.output;  // two images, one row each

  r = run("classify --model " + model + " --template 'no placeholder' " + image + " --labels a b");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "clip: error: template \"no placeholder\" has no {} for the label\n");
}

TEST(Cli, EmbedFolderThenSearch) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const auto tmp = std::filesystem::temp_directory_path() / "clip_cli_embed";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp / "images" / "sub");
  std::filesystem::copy_file(clip::test::shared_dir() / "assets/CLIP.png", tmp / "images" / "a.png");
  std::filesystem::copy_file(clip::test::shared_dir() / "fixtures/preprocess/images/noise_png_7x5.png",
                             tmp / "images" / "sub" / "b.png");
  std::ofstream(tmp / "images" / "broken.jpg") << "not a jpeg";
  std::ofstream(tmp / "images" / "notes.txt") << "not an image, not looked at";
  const std::string model = (dir / "model.pt").string();

  Result r = run("embed " + (tmp / "images").string() + " --model " + model + " --batch 1 --out " +
                 (tmp / "index.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("clip: warning: skipped " + (tmp / "images" / "broken.jpg").string()), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("notes.txt"), std::string::npos) << r.output;
  const clip::Tensor index = clip::load_npy(tmp / "index.npy");
  ASSERT_EQ(index.shape(), (clip::Tensor::Shape{2, 64}));
  std::ifstream in(tmp / "index.json");
  const auto list = nlohmann::json::parse(in);
  ASSERT_EQ(list["files"].size(), 2u);
  EXPECT_EQ(list["files"][0], (tmp / "images" / "a.png").string());
  EXPECT_EQ(list["files"][1], (tmp / "images" / "sub" / "b.png").string());
  EXPECT_EQ(list["skipped"][0], (tmp / "images" / "broken.jpg").string());
  EXPECT_EQ(list["model"], model);

  // The same features as encode-image --normalize.
  r = run("encode-image --normalize --model " + model + " " + (tmp / "images" / "a.png").string() + " --out " +
          (tmp / "one.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const clip::Tensor one = clip::load_npy(tmp / "one.npy");
  for (std::int64_t c = 0; c < 64; ++c) EXPECT_NEAR(index.data<float>()[c], one.data<float>()[c], 1e-5);

  // Search ranks by cosine similarity with the query; the model comes from the index.
  const clip::Tensor query = clip::normalize(clip::load(model).first.encode_text(clip::tokenize("a diagram")));
  double s[2] = {0, 0};
  for (int f = 0; f < 2; ++f)
    for (std::int64_t c = 0; c < 64; ++c) s[f] += query.data<float>()[c] * index.data<float>()[f * 64 + c];
  r = run("search --json --top 2 --index " + (tmp / "index.npy").string() + " 'a diagram'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const int best = s[0] >= s[1] ? 0 : 1;
  EXPECT_EQ(j["query"], "a diagram");
  EXPECT_EQ(j["results"][0]["file"], list["files"][best]);
  EXPECT_NEAR(j["results"][0]["score"].get<double>(), s[best], 1e-5);
  EXPECT_NEAR(j["results"][1]["score"].get<double>(), s[1 - best], 1e-5);

  // A file named on the command line is read whatever its name; this one is no image.
  std::ofstream(tmp / "notes.md") << "not an image";
  r = run("embed " + (tmp / "notes.md").string() + " --model " + model + " --out " + (tmp / "x.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("clip: error: none of the 1 inputs could be read as images"), std::string::npos) << r.output;
  r = run("search --index " + (tmp / "missing.npy").string() + " query");
  EXPECT_EQ(r.status, 1);
  // A damaged file list is a clear error too, not an internal one.
  std::filesystem::copy_file(tmp / "index.npy", tmp / "damaged.npy");
  std::ofstream(tmp / "damaged.json") << "{\"files\": 3}";
  r = run("search --index " + (tmp / "damaged.npy").string() + " query");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output.rfind("clip: error: cannot read " + (tmp / "damaged.json").string(), 0), 0u) << r.output;
}

// Issue #15: files that are not files. A folder given as an image ended in std::bad_alloc,
// a FIFO blocked forever; in a folder, a link loop aborted `embed` and dangling links,
// FIFOs and folders named x.png were silently absent.
TEST(Cli, FilesThatAreNotFilesAreNamedNeverFatal) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const std::string model = (dir / "model.pt").string();
  const auto tmp = std::filesystem::temp_directory_path() / "clip_cli_not_files";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp / "images" / "folder.png");
  std::filesystem::copy_file(clip::test::shared_dir() / "assets/CLIP.png", tmp / "images" / "good.png");
  std::filesystem::create_symlink(tmp / "images" / "loop.png", tmp / "images" / "loop.png");
  std::filesystem::create_symlink(tmp / "images" / "missing.png", tmp / "images" / "dangling.png");
  std::filesystem::create_symlink("/dev/null", tmp / "images" / "device.png");
  ASSERT_EQ(mkfifo((tmp / "images" / "fifo.png").c_str(), 0600), 0);
  ASSERT_EQ(mkfifo((tmp / "fifo.pt").c_str(), 0600), 0);

  // `timeout`: a regression would block here rather than fail.
  Result r = run_command("timeout 60 " + std::string(CLIP_CLI_PATH) + " embed " + (tmp / "images").string() +
                         " --model " + model + " --out " + (tmp / "index.npy").string() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto skipped = [&](const std::string& name, const std::string& reason) {
    return r.output.find("skipped " + (tmp / "images" / name).string() + ": " + reason) != std::string::npos;
  };
  EXPECT_TRUE(skipped("loop.png", "a link that leads nowhere (Too many levels of symbolic links)")) << r.output;
  EXPECT_TRUE(skipped("dangling.png", "a link that leads nowhere")) << r.output;
  EXPECT_TRUE(skipped("device.png", "it is a device, not a regular file")) << r.output;
  EXPECT_TRUE(skipped("fifo.png", "it is a FIFO, not a regular file")) << r.output;
  EXPECT_TRUE(skipped("folder.png", "it is a folder")) << r.output;
  std::ifstream in(tmp / "index.json");
  const auto list = nlohmann::json::parse(in);
  EXPECT_EQ(list["files"], nlohmann::json::array({(tmp / "images" / "good.png").string()}));
  EXPECT_EQ(list["skipped"].size(), 5u);

  // One image argument that is a folder, a FIFO: a clip::Error naming it, exit 1.
  // classify takes folders as embed does: the good image is classified, the others named.
  r = run_command("timeout 60 " + std::string(CLIP_CLI_PATH) + " classify --json --model " + model +
                  " --labels a b -- " + (tmp / "images").string() + " 2>/dev/null");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(nlohmann::json::parse(r.output)["image"], (tmp / "images" / "good.png").string()) << r.output;
  // encode-image takes folders too, but every image must be readable (one row each).
  r = run_command("timeout 60 " + std::string(CLIP_CLI_PATH) + " encode-image --model " + model + " --out " +
                  (tmp / "x.npy").string() + " " + (tmp / "images").string() + " 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("encode-image writes one row per image"), std::string::npos) << r.output;
  std::filesystem::create_directories(tmp / "good");
  std::filesystem::copy_file(tmp / "images" / "good.png", tmp / "good" / "a.png");
  std::filesystem::copy_file(tmp / "images" / "good.png", tmp / "good" / "b.png");
  r = run("encode-image --model " + model + " --out " + (tmp / "x.npy").string() + " " + (tmp / "good").string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(clip::load_npy(tmp / "x.npy").size(0), 2);
  for (const std::string& command : {"encode-image --model " + model + " --out " + (tmp / "x.npy").string() + " ",
                                     std::string("preprocess --out ") + (tmp / "p").string() + " "}) {
    r = run_command("timeout 60 " + std::string(CLIP_CLI_PATH) + " " + command +
                    (tmp / "images" / "fifo.png").string() + " 2>&1");
    EXPECT_EQ(r.status, 1) << command << r.output;
    EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << command << r.output;
  }
  // preprocess takes one image: a folder is named as one.
  r = run("preprocess --out " + (tmp / "p").string() + " " + (tmp / "images").string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot read image " + (tmp / "images").string() + ": it is a directory"), std::string::npos)
      << r.output;
  EXPECT_THROW(clip::Image::open(tmp / "images"), clip::Error);
  // A FIFO as a checkpoint.
  r = run_command("timeout 60 " + std::string(CLIP_CLI_PATH) + " inspect " + (tmp / "fifo.pt").string() + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
  std::filesystem::remove_all(tmp);
}

// Issue #14: the first unreadable image ended `classify` with nothing printed for the good
// ones. Now each bad one is named, the others are classified, and the exit status says.
TEST(Cli, ClassifySkipsUnreadableImagesAndFailsAtTheEnd) {
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  const auto bad = std::filesystem::temp_directory_path() / "clip_cli_bad_image.jpg";
  std::ofstream(bad) << "not a jpeg";
  const Result r =
      run_command(std::string(CLIP_CLI_PATH) + " classify --json --batch 2 --model demo-shapes " + png.string() + " " +
                  bad.string() + " " + png.string() + " --labels circle star 2>/dev/null");
  EXPECT_EQ(r.status, 1);
  std::istringstream lines(r.output);
  std::string line;
  int classified = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(nlohmann::json::parse(line)["image"], png.string());
    ++classified;
  }
  EXPECT_EQ(classified, 2) << r.output;
  const Result err = run("classify --model demo-shapes " + png.string() + " " + bad.string() + " --labels circle star");
  EXPECT_NE(err.output.find("clip: warning: skipped " + bad.string() + ": cannot decode"), std::string::npos)
      << err.output;
  EXPECT_NE(err.output.find("clip: error: 1 of 2 images could not be read"), std::string::npos) << err.output;
  std::filesystem::remove(bad);
}

// Issue #14: an index searched with another model of the same embedding size gave
// meaningless scores; after `cd` elsewhere the model and the files were not found; a
// missing --out folder was reported only after all the work.
TEST(Cli, IndexRemembersItsModelAndAbsolutePaths) {
  CLIP_REQUIRE_SHARED_FILE(vit, "fixtures/models/vit-b32-tiny/model.pt");
  CLIP_REQUIRE_SHARED_FILE(rn, "fixtures/models/rn50-tiny/model.pt");  // also 64-dim
  const auto tmp = std::filesystem::temp_directory_path() / "clip_cli_index";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp / "images");
  std::filesystem::copy_file(clip::test::shared_dir() / "assets/CLIP.png", tmp / "images" / "a.png");
  const std::string in_tmp = "cd " + tmp.string() + " && ";
  // Relative paths at embed time...
  Result r = run_command(in_tmp + CLIP_CLI_PATH + " embed images --model " + vit.string() + " --out index.npy 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  // ...searched from another folder: the files come back absolute.
  r = run_command("cd / && " + std::string(CLIP_CLI_PATH) + " search --json --index " + (tmp / "index.npy").string() +
                  " diagram 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["results"][0]["file"], (tmp / "images" / "a.png").string());
  // Another 64-dim model is refused.
  r = run("search --model " + rn.string() + " --index " + (tmp / "index.npy").string() + " diagram");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("was made with another model than " + rn.string()), std::string::npos) << r.output;
  // A folder that does not exist, before the model is even loaded.
  r = run("embed " + (tmp / "images").string() + " --model /nonexistent.pt --out " +
          (tmp / "no" / "index.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("folder " + (tmp / "no").string() + " does not exist"), std::string::npos) << r.output;
  std::filesystem::remove_all(tmp);
}

// Issue #14: --truncate wherever texts are tokenized, --exif-orientation wherever images
// are opened, and tables aligned by display width ("猫" takes two columns, "é" one).
TEST(Cli, TruncateExifAndDisplayWidthEverywhere) {
  const std::string image = std::string(CLIP_SOURCE_DIR) + "/examples/images/red-star.png";
  std::string long_label;
  for (int i = 0; i < 100; ++i) long_label += "word ";
  EXPECT_EQ(run("classify --model demo-shapes " + image + " --labels '" + long_label + "' star").status, 1);
  EXPECT_EQ(run("classify --truncate --model demo-shapes " + image + " --labels '" + long_label + "' star").status, 0);
  EXPECT_EQ(run("encode-text --model demo-shapes --out /dev/null '" + long_label + "'").status, 1);
  EXPECT_EQ(run("encode-text --truncate --model demo-shapes --out /dev/null '" + long_label + "'").status, 0);
  for (const char* command : {"encode-text", "classify", "search"})
    EXPECT_NE(run(std::string(command) + " --help").output.find("--truncate"), std::string::npos) << command;
  for (const char* command : {"preprocess", "encode-image", "classify", "embed"})
    EXPECT_NE(run(std::string(command) + " --help").output.find("--exif-orientation"), std::string::npos) << command;
  EXPECT_EQ(run("classify --exif-orientation --model demo-shapes " + image + " --labels star").status, 0);

  const Result table = run("classify --model demo-shapes " + image + " --labels 'étoile rouge' 猫 'red star'");
  ASSERT_EQ(table.status, 0) << table.output;
  // Every probability starts in the same terminal column.
  std::istringstream lines(table.output);
  std::string line;
  std::getline(lines, line);  // the file name
  std::set<std::size_t> columns;
  while (std::getline(lines, line)) columns.insert(cli_column_of_probability(line));
  EXPECT_EQ(columns.size(), 1u) << table.output;
}

// Issue #14: "-" for standard input and output, JSON lines besides .npy, and a preprocess
// at the model's resolution whose [3, n, n] output feeds encode-image directly.
TEST(Cli, StandardStreamsJsonLinesAndPreprocessForAModel) {
  const std::string image = std::string(CLIP_SOURCE_DIR) + "/examples/images/red-star.png";
  const auto tmp = std::filesystem::temp_directory_path() / "clip_cli_streams";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  const std::string cli = CLIP_CLI_PATH;
  ASSERT_EQ(run("encode-image --model demo-shapes " + image + " --out " + (tmp / "file.npy").string()).status, 0);
  // From standard input to standard output: the same .npy bytes.
  Result r = run_command("cat " + image + " | " + cli + " encode-image --model demo-shapes - --out - > " +
                         (tmp / "piped.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const clip::Tensor file = clip::load_npy(tmp / "file.npy"), piped = clip::load_npy(tmp / "piped.npy");
  EXPECT_EQ(file.to_vector<float>(), piped.to_vector<float>());
  // JSON lines: one array per image.
  ASSERT_EQ(
      run("encode-image --model demo-shapes " + image + " " + image + " --out " + (tmp / "rows.jsonl").string()).status,
      0);
  std::ifstream rows(tmp / "rows.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(rows, line)) {
    const auto values = nlohmann::json::parse(line).get<std::vector<float>>();
    ASSERT_EQ(values.size(), static_cast<std::size_t>(file.size(1)));
    for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i], file.to_vector<float>()[i]);
    ++n;
  }
  EXPECT_EQ(n, 2);
  // preprocess --model: the model's 64 px, [3, 64, 64], accepted by encode-image as one image.
  ASSERT_EQ(run("preprocess --model demo-shapes " + image + " --out " + (tmp / "pre.npy").string()).status, 0);
  EXPECT_EQ(clip::load_npy(tmp / "pre.npy").shape(), (clip::Tensor::Shape{3, 64, 64}));
  ASSERT_EQ(run("encode-image --model demo-shapes --input-npy " + (tmp / "pre.npy").string() + " --out " +
                (tmp / "from_pre.npy").string())
                .status,
            0);
  EXPECT_EQ(clip::load_npy(tmp / "from_pre.npy").to_vector<float>(), file.to_vector<float>());
  // classify reads standard input too.
  r = run_command("cat " + image + " | " + cli +
                  " classify --json --model demo-shapes - --labels 'red star' 'blue circle'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["labels"][0], "red star");
  std::filesystem::remove_all(tmp);
}

// Issue #14: --labels-file, `models --json`, each subcommand's own examples, and every
// extension the library decodes picked up from folders (.jfif was skipped silently).
TEST(Cli, LabelsFileModelsJsonExamplesAndExtensions) {
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  const auto tmp = std::filesystem::temp_directory_path() / "clip_cli_labels";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp / "images");
  std::ofstream(tmp / "labels.txt") << "blue circle\n\nyellow triangle\r\n";
  const std::string image = std::string(CLIP_SOURCE_DIR) + "/examples/images/red-star.png";
  Result r = run("classify --json --model demo-shapes " + image + " --labels 'red star' --labels-file " +
                 (tmp / "labels.txt").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["labels"],
            nlohmann::json::array({"red star", "blue circle", "yellow triangle"}));
  EXPECT_EQ(run("classify --model demo-shapes " + image).output, "clip: error: give --labels or --labels-file\n");

  r = run("models --json");
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  std::set<std::string> names;
  while (std::getline(lines, line)) names.insert(nlohmann::json::parse(line)["name"].get<std::string>());
  EXPECT_TRUE(names.count("ViT-B/32") && names.count("demo-shapes")) << r.output;

  for (const char* command : {"tokenize", "preprocess", "inspect", "models", "download", "encode-image", "encode-text",
                              "classify", "embed", "search"}) {
    const std::string help = run(std::string(command) + " --help").output;
    EXPECT_NE(help.find("Examples:\n  clip " + std::string(command)), std::string::npos) << help;
  }

  std::filesystem::copy_file(png, tmp / "images" / "photo.jfif");  // the content decides the format
  std::filesystem::copy_file(std::string(CLIP_SOURCE_DIR) + "/tests/image/formats/images/pgm_p2.pgm",
                             tmp / "images" / "scan.pgm");
  r = run("embed " + (tmp / "images").string() + " --model demo-shapes --out " + (tmp / "index.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(clip::load_npy(tmp / "index.npy").size(0), 2);
  std::filesystem::remove_all(tmp);
}

// Issue #14: an image as the query. The indexed image itself comes first, with cosine 1.
TEST(Cli, SearchByImage) {
  const std::string images = std::string(CLIP_SOURCE_DIR) + "/examples/images";
  const auto index = std::filesystem::temp_directory_path() / "clip_cli_search_by_image.npy";
  ASSERT_EQ(run("embed " + images + " --model demo-shapes --out " + index.string()).status, 0);
  const Result r = run("search --json --top 1 --index " + index.string() + " --image " + images + "/red-star.png");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["query"], images + "/red-star.png");
  EXPECT_EQ(j["results"][0]["file"], std::filesystem::path(images + "/red-star.png").lexically_normal().string());
  EXPECT_NEAR(j["results"][0]["score"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(run("search --index " + index.string()).output, "clip: error: give a text QUERY, --image or --vectors\n");
  std::filesystem::remove(index);
  std::filesystem::remove(std::filesystem::path(index).replace_extension(".json"));
}

// open_clip models through the tool: the description beside the weights or named with
// --config; without one, refused (these shapes fit no OpenAI model) or, for a file OpenAI's
// rules can build, loaded with a one-line warning saying what was assumed.
TEST(Cli, OpenClipModelsAndTheirConfiguration) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip/oc-vit-quickgelu");
  CLIP_REQUIRE_SHARED_FILE(openai, "fixtures/models/vit-b32-tiny/state_dict.pt");
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  const std::filesystem::path tmp = std::filesystem::temp_directory_path() / "clip_cli_open_clip";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  const std::string weights = (dir / "open_clip_model.safetensors").string();
  Result r = run("classify --json --model " + weights + " " + png.string() + " --labels 'a diagram' 'a dog' 'a cat'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
  const std::vector<float> probs = nlohmann::json::parse(r.output)["probs"].get<std::vector<float>>();
  const std::vector<float> golden = clip::load_npy(dir / "e2e_probs.f32.npy").to_vector<float>();
  ASSERT_EQ(probs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(probs[i], golden[i], 1e-4) << r.output;

  std::filesystem::copy_file(weights, tmp / "bare.safetensors");
  r = run("encode-text --model " + (tmp / "bare.safetensors").string() + " --out " + (tmp / "t.npy").string() +
          " 'a dog'");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("open_clip_config.json"), std::string::npos) << r.output;
  r = run("encode-text --model " + (tmp / "bare.safetensors").string() + " --config " +
          (dir / "open_clip_config.json").string() + " --out " + (tmp / "t.npy").string() + " 'a dog'");
  EXPECT_EQ(r.status, 0) << r.output;
  r = run("inspect --json " + weights);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["resize_mode"], "squash");

  r = run("encode-text --model " + openai.string() + " --out " + (tmp / "t.npy").string() + " 'a dog'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: " + openai.string() + " has no open_clip_config.json: read by OpenAI's rules"),
            std::string::npos)
      << r.output;
  std::filesystem::remove_all(tmp);
}

// Issue #22: precision bf16 runs in bf16 only where it is faster than fp32 (a calibration,
// runtime/bf16_check.h); CLIP_BF16 overrides it. Whatever this CPU decides, auto gives
// exactly the bf16 result or exactly the fp32 one, and says so when it is the fp32 one.
TEST(Cli, Bf16RunsWhereItPaysAndSaysWhenItDoesNot) {
  const auto dir = std::filesystem::temp_directory_path() / "clip_cli_bf16";
  std::filesystem::create_directories(dir);
  const auto encode = [&](const std::string& env, const std::string& precision, const std::string& name) {
    const Result r = run_command(env + " " + CLIP_CLI_PATH + " encode-text --model demo-shapes --precision " +
                                 precision + " --out " + (dir / name).string() + " 'a red star' 'a blue circle' 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    std::ifstream in(dir / name, std::ios::binary);
    return std::make_pair(r.output, std::string(std::istreambuf_iterator<char>(in), {}));
  };
  const auto fp32 = encode("", "fp32", "fp32.npy");
  const auto off = encode("CLIP_BF16=off", "bf16", "off.npy");
  const auto on = encode("CLIP_BF16=on", "bf16", "on.npy");
  const auto automatic = encode("CLIP_BF16=auto", "bf16", "auto.npy");
  EXPECT_EQ(off.second, fp32.second);
  EXPECT_EQ(off.first, "clip: note: CLIP_BF16=off: precision bf16 runs in fp32\n");
  EXPECT_NE(on.second, fp32.second);  // bf16 really ran
  EXPECT_EQ(on.first, "");
  if (automatic.second == fp32.second) {
    EXPECT_NE(automatic.first.find("bfloat16 matrix products are not faster than float32 on this CPU"),
              std::string::npos)
        << automatic.first;
  } else {
    EXPECT_EQ(automatic.second, on.second);
    EXPECT_EQ(automatic.first, "");
  }
  std::filesystem::remove_all(dir);
}
