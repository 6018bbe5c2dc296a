// embed_part: one shard -> part-NNNNN.npy + part-NNNNN.jsonl. Threads read, decode and
// preprocess the shard's items in order while the caller's thread runs the model.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "clip/atomic_file.h"
#include "clip/collection.h"
#include "clip/error.h"
#include "clip/npy.h"
#include "collection/tar_samples.h"
#include "core/threads.h"

namespace clip {
namespace {

namespace fs = std::filesystem;

// One item's record and, once decoded, its pixels.
struct Item {
  ItemRecord record;
  Tensor pixels;
};

// The shard's items in order, handed to the decode threads one at a time: file paths, or
// the samples of a tar read sequentially (the caller holds the pipeline's lock).
class Items {
 public:
  explicit Items(const Shard& shard) : shard_(shard) {
    if (!shard.tar.empty()) {
      try {
        tar_.emplace(shard.tar);
      } catch (const Error& e) {
        opening_error_ = e.what();
      }
    }
  }
  // The next item (its bytes in `data` for a tar sample), or false at the end.
  bool next(Item& item, std::vector<std::uint8_t>& data) {
    if (shard_.tar.empty()) {
      if (index_ >= shard_.files.size()) return false;
      item.record.path = shard_.files[index_++];
      return true;
    }
    item.record.path = shard_.tar;
    if (!opening_error_.empty()) {  // one record says why the shard could not be read
      item.record.error = std::exchange(opening_error_, "");
      opened_failed_ = true;
      return true;
    }
    if (opened_failed_) return false;
    std::optional<collection::TarSample> s = tar_->next();
    if (!s) return false;
    item.record.key = s->key;
    item.record.member = s->member;
    item.record.bytes = s->bytes;
    item.record.error = s->error;
    data = std::move(s->data);
    return true;
  }

 private:
  const Shard& shard_;
  std::size_t index_ = 0;
  std::optional<collection::TarSamples> tar_;
  std::string opening_error_;
  bool opened_failed_ = false;
};

// Reads and preprocesses one item (on a decode thread); a failure becomes its record.
void decode(Item& item, std::vector<std::uint8_t>& data, const Preprocess& preprocess, const ImageOptions& options) {
  ItemRecord& r = item.record;
  if (!r.error.empty()) return;
  try {
    if (r.member.empty()) {
      std::error_code ec;
      const auto size = fs::file_size(r.path, ec);
      r.bytes = ec ? 0 : size;
      item.pixels = preprocess(fs::path(r.path), options);
    } else {
      item.pixels = preprocess(data, r.path + "#" + r.member, options);
    }
  } catch (const Error& e) {
    r.error = e.what();
  }
  data = {};
}

nlohmann::ordered_json to_json(const ItemRecord& item, std::int64_t row) {
  nlohmann::ordered_json j;
  j["path"] = item.path;
  if (!item.key.empty() || !item.member.empty()) {
    j["key"] = item.key;
    j["member"] = item.member;
  }
  j["bytes"] = item.bytes;
  if (item.error.empty()) {
    j["status"] = "ok";
    j["row"] = row;
  } else {
    j["status"] = "error";
    j["error"] = item.error;
  }
  return j;
}

// The decode threads and the ordered hand-over to the model's thread. At most `window`
// items are read ahead of the model (bounded memory whatever the shard's size).
class Pipeline {
 public:
  Pipeline(const Shard& shard, const Preprocess& preprocess, const ImageOptions& options, int threads,
           std::size_t window)
      : items_(shard), preprocess_(preprocess), options_(options), window_(window) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
  }
  ~Pipeline() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // While held, no decode thread starts another item (one under way finishes).
  void hold(bool on) {
    {
      std::lock_guard lock(mutex_);
      held_ = on;
    }
    if (!on) changed_.notify_all();
  }

  // The next item in shard order, decoded; false after the last.
  bool take(Item& out) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock,
                  [&] { return error_ || (!ready_.empty() && ready_.front().done) || (ended_ && ready_.empty()); });
    if (error_) std::rethrow_exception(error_);
    if (ready_.empty()) return false;
    out = std::move(ready_.front().item);
    ready_.pop_front();
    changed_.notify_all();
    return true;
  }

 private:
  struct Slot {
    Item item;
    bool done = false;
  };

  void work() {
    std::vector<std::uint8_t> data;
    for (;;) {
      Slot* slot = nullptr;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || ended_ || (!held_ && ready_.size() < window_); });
        if (stopping_ || ended_) return;
        Item item;
        try {
          if (!items_.next(item, data)) {
            ended_ = true;
            changed_.notify_all();
            return;
          }
        } catch (...) {
          error_ = std::current_exception();
          ended_ = true;
          changed_.notify_all();
          return;
        }
        ready_.push_back(Slot{std::move(item), false});
        slot = &ready_.back();  // std::deque keeps addresses on push_back/pop_front
      }
      Item& item = slot->item;
      try {
        decode(item, data, preprocess_, options_);
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        slot->done = true;
      }
      changed_.notify_all();
    }
  }

  Items items_;
  const Preprocess& preprocess_;
  const ImageOptions options_;
  const std::size_t window_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Slot> ready_;  // read, in shard order; done once decoded
  bool ended_ = false, stopping_ = false, held_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace

std::string part_name(std::size_t part) {
  char name[32];
  std::snprintf(name, sizeof name, "part-%05zu", part);
  return name;
}

bool part_done(const fs::path& dir, std::size_t part) {
  std::error_code ec;
  return fs::is_regular_file(dir / (part_name(part) + ".jsonl"), ec) &&
         fs::is_regular_file(dir / (part_name(part) + ".npy"), ec);
}

EmbeddedShard embed_shard(const Model& model, const Preprocess& preprocess, const Shard& shard,
                          const PartOptions& options) {
  if (options.batch < 1) throw Error("the batch size must be at least 1");
  if (!shard.tar.empty() && !shard.files.empty()) throw Error("a shard is either files or one tar, not both");
  const int cpus = options.cpus > 0 ? options.cpus : core::available_cpus();
  const int threads = options.decode_threads > 0 ? options.decode_threads : cpus;
  // Where the decoders and the model's threads would share CPUs, they take turns: the
  // decoders fill the next batch on every CPU, then wait while the model runs on every CPU.
  // Overlapping them made the model's OpenMP threads wait for each other at every barrier
  // while a decoder held one of their CPUs (as a busy neighbour does): 1,000 1920x1080
  // JPEGs on ViT-B/32, 2 cores, batch 8: 27.0-28.5 images/s overlapped, against 29.7 for
  // decoding and inference one after the other on one thread (bench/embed_pipeline).
  const bool take_turns = threads + model.num_threads() > cpus;
  const std::size_t batch = static_cast<std::size_t>(options.batch);

  EmbeddedShard out;
  std::vector<Tensor> pending;
  std::vector<float> features;
  std::size_t rows = 0;
  {
    // Two batches ahead at most: bounded memory whatever the shard's size.
    Pipeline pipeline(shard, preprocess, options.image, threads, 2 * batch + static_cast<std::size_t>(threads));
    const auto run_batch = [&] {
      if (pending.empty()) return;
      if (take_turns) pipeline.hold(true);
      const std::vector<float> f = normalize(model.encode_image(stack(pending))).to_vector<float>();
      if (take_turns) pipeline.hold(false);
      features.insert(features.end(), f.begin(), f.end());
      pending.clear();
      if (options.progress) options.progress(out.records.size());
    };
    Item item;
    while (pipeline.take(item)) {
      if (item.record.error.empty()) {
        pending.push_back(std::move(item.pixels));
        ++rows;
      }
      item.pixels = Tensor();
      out.records.push_back(std::move(item.record));
      if (pending.size() == batch) run_batch();
    }
    run_batch();
  }
  if (options.progress) options.progress(out.records.size());
  out.features = Tensor::from_vector({static_cast<std::int64_t>(rows), model.config().embed_dim}, features);
  return out;
}

PartSummary embed_part(const Model& model, const Preprocess& preprocess, const Shard& shard, std::size_t part,
                       const fs::path& dir, const PartOptions& options) {
  if (options.dtype != DType::Float32 && options.dtype != DType::Float16)
    throw Error("parts hold float32 or float16 features, not " + std::string(dtype_name(options.dtype)));
  const EmbeddedShard e = embed_shard(model, preprocess, shard, options);
  PartSummary summary;
  summary.items = e.records.size();
  summary.embedded = static_cast<std::size_t>(e.features.size(0));
  summary.failed = summary.items - summary.embedded;
  std::error_code ec;
  fs::create_directories(dir, ec);  // a failure shows in the write below
  const std::string name = part_name(part);
  // The .npy first: the .jsonl's presence says the part is finished (part_done).
  save_npy(dir / (name + ".npy"), options.dtype == DType::Float16 ? e.features.to(DType::Float16) : e.features);
  write_atomically(dir / (name + ".jsonl"), [&](std::ostream& out) {
    std::int64_t row = 0;
    for (const ItemRecord& r : e.records) out << to_json(r, r.error.empty() ? row++ : -1).dump() << '\n';
  });
  return summary;
}

}  // namespace clip
