// Sharded embedding runs (clip/collection.h): tar shards, plans, parts, run folders.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/clip.h"
#include "collection/tar_samples.h"

namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

fs::path example(const std::string& name) { return fs::path(CLIP_SOURCE_DIR) / "examples" / "images" / name; }

// A tar (ustar; gzip-compressed with `gzip`) of (member name, bytes) pairs, plus one folder entry.
void write_tar(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members,
               bool gzip = false) {
  archive* a = archive_write_new();
  archive_write_set_format_ustar(a);
  if (gzip) archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  archive_entry* dir = archive_entry_new();
  archive_entry_set_pathname(dir, "a folder/");
  archive_entry_set_filetype(dir, AE_IFDIR);
  archive_entry_set_perm(dir, 0755);
  archive_write_header(a, dir);
  archive_entry_free(dir);
  for (const auto& [name, bytes] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    archive_write_data(a, bytes.data(), bytes.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

class Collection : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("clip_collection_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::vector<clip::collection::TarSample> all_samples(const fs::path& tar) {
  clip::collection::TarSamples samples(tar.string());
  std::vector<clip::collection::TarSample> out;
  while (auto s = samples.next()) out.push_back(std::move(*s));
  return out;
}

TEST_F(Collection, TarMembersAreGroupedBySampleKey) {
  const std::string star = read_bytes(example("red-star.png")), circle = read_bytes(example("blue-circle.png"));
  for (const bool gzip : {false, true}) {
    const fs::path tar = dir_ / (gzip ? "s.tar.gz" : "s.tar");
    write_tar(tar,
              {{"x/000.txt", "a star"},
               {"x/000.png", star},
               {"x/000.seg.png", circle},  // first image member wins
               {"x/001.jpg", circle},
               {"x/001.json", "{}"},
               {"x/002.txt", "no image"}},
              gzip);
    const auto s = all_samples(tar);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].key, "x/000");
    EXPECT_EQ(s[0].member, "x/000.png");
    EXPECT_EQ(std::string(s[0].data.begin(), s[0].data.end()), star);
    EXPECT_EQ(s[0].bytes, star.size());
    EXPECT_EQ(s[0].error, "");
    EXPECT_EQ(s[1].key, "x/001");
    EXPECT_EQ(s[1].member, "x/001.jpg");
    EXPECT_EQ(s[2].key, "x/002");
    EXPECT_EQ(s[2].member, "");
    EXPECT_NE(s[2].error.find("no image member (it holds x/002.txt)"), std::string::npos) << s[2].error;
  }
}

TEST_F(Collection, ADamagedTarEndsWithARecordThatSaysSo) {
  const std::string star = read_bytes(example("red-star.png"));
  const fs::path tar = dir_ / "s.tar";
  write_tar(tar, {{"000.png", star}, {"001.png", star}, {"002.png", star}});
  std::string bytes = read_bytes(tar);
  // Cut inside the third member's data.
  const std::size_t cut = bytes.find(star, bytes.find(star, bytes.find(star) + 1) + 1) + star.size() / 2;
  std::ofstream(dir_ / "cut.tar", std::ios::binary) << bytes.substr(0, cut);
  auto s = all_samples(dir_ / "cut.tar");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].error, "");
  EXPECT_EQ(s[1].error, "");
  EXPECT_EQ(s[2].member, "002.png");
  EXPECT_NE(s[2].error.find("ends inside this member"), std::string::npos) << s[2].error;
  EXPECT_EQ(s[3].key, "");
  EXPECT_NE(s[3].error.find("truncated or damaged after 002.png"), std::string::npos) << s[3].error;
  // Garbage is no tar: an error here, one record in a part (below).
  std::ofstream(dir_ / "junk.tar", std::ios::binary) << std::string(3000, '\x7f');
  EXPECT_THROW(clip::collection::TarSamples((dir_ / "junk.tar").string()), clip::Error);
  EXPECT_THROW(clip::collection::TarSamples((dir_ / "missing.tar").string()), clip::Error);
  auto [model, preprocess] = clip::load("demo-shapes");
  const clip::EmbeddedShard e = clip::embed_shard(model, preprocess, clip::Shard{{}, (dir_ / "junk.tar").string()});
  ASSERT_EQ(e.records.size(), 1u);
  EXPECT_NE(e.records[0].error.find("Unrecognized archive format"), std::string::npos) << e.records[0].error;
  EXPECT_EQ(e.features.size(0), 0);
  const clip::EmbeddedShard damaged =
      clip::embed_shard(model, preprocess, clip::Shard{{}, (dir_ / "cut.tar").string()});
  ASSERT_EQ(damaged.records.size(), 4u);
  EXPECT_EQ(damaged.features.size(0), 2);
}

TEST_F(Collection, PlanSplitsFilesIntoPartsAndGivesEachTarItsOwn) {
  fs::create_directories(dir_ / "photos" / "sub");
  for (const char* name : {"a.png", "b.png", "c.PNG", "sub/d.jpg", "notes.md"})
    std::ofstream(dir_ / "photos" / name) << "x";
  fs::create_directory(dir_ / "photos" / "folder.png");
  write_tar(dir_ / "photos" / "sub" / "shard.tar", {{"0.png", "x"}});
  std::ofstream(dir_ / "list.txt") << "# a comment\nphotos/a.png\n\n" << (dir_ / "photos" / "b.png").string() << "\r\n";

  const clip::CollectionPlan plan = clip::plan_collection({(dir_ / "photos").string()}, 2);
  const std::string p = (dir_ / "photos").string();
  ASSERT_EQ(plan.shards.size(), 3u);
  EXPECT_EQ(plan.shards[0].files, (std::vector<std::string>{p + "/a.png", p + "/b.png"}));
  EXPECT_EQ(plan.shards[1].files, (std::vector<std::string>{p + "/c.PNG", p + "/sub/d.jpg"}));
  EXPECT_EQ(plan.shards[2].tar, p + "/sub/shard.tar");
  EXPECT_TRUE(plan.shards[2].files.empty());
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].first, p + "/folder.png");

  // A list's entries are relative to the list's folder, whatever the current one.
  const clip::CollectionPlan listed = clip::plan_collection({(dir_ / "list.txt").string()}, 10);
  ASSERT_EQ(listed.shards.size(), 1u);
  EXPECT_EQ(listed.shards[0].files, (std::vector<std::string>{p + "/a.png", p + "/b.png"}));

  std::ofstream(dir_ / "loop.txt") << "list.txt\n";
  EXPECT_THROW(clip::plan_collection({(dir_ / "loop.txt").string()}, 10), clip::Error);
  EXPECT_THROW(clip::plan_collection({(dir_ / "nothing here.png").string()}, 10), clip::Error);
  EXPECT_THROW(clip::plan_collection({p}, 0), clip::Error);
}

// The records of a part's .jsonl.
std::vector<nlohmann::json> records(const fs::path& jsonl) {
  std::ifstream in(jsonl);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST_F(Collection, APartIsTheSameBytesWhateverTheDecodeThreads) {
  auto [model, preprocess] = clip::load("demo-shapes");
  std::ofstream(dir_ / "broken.png") << "\x89PNG not really";
  clip::Shard shard;
  for (const char* name : {"red-star.png", "blue-circle.png"}) shard.files.push_back(example(name).string());
  shard.files.push_back((dir_ / "broken.png").string());
  shard.files.push_back(example("yellow-triangle.png").string());
  clip::PartOptions options;
  options.batch = 2;
  std::vector<std::size_t> progress;
  options.progress = [&](std::size_t n) { progress.push_back(n); };
  const clip::PartSummary s = clip::embed_part(model, preprocess, shard, 3, dir_ / "one", options);
  EXPECT_EQ(s.items, 4u);
  EXPECT_EQ(s.embedded, 3u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 4u);
  EXPECT_TRUE(clip::part_done(dir_ / "one", 3));
  EXPECT_FALSE(clip::part_done(dir_ / "one", 0));

  options.decode_threads = 3;
  fs::create_directories(dir_ / "three");
  clip::embed_part(model, preprocess, shard, 3, dir_ / "three", options);
  for (const char* f : {"part-00003.npy", "part-00003.jsonl"})
    EXPECT_EQ(read_bytes(dir_ / "one" / f), read_bytes(dir_ / "three" / f)) << f;

  // Rows: the images that could be read, in order, as encode_image gives them.
  const clip::Tensor rows = clip::load_npy(dir_ / "one" / "part-00003.npy");
  ASSERT_EQ(rows.shape(), (clip::Tensor::Shape{3, model.config().embed_dim}));
  const clip::Tensor want = clip::normalize(model.encode_image(
      preprocess(example("yellow-triangle.png")).reshape({1, 3, preprocess.size(), preprocess.size()})));
  for (std::int64_t c = 0; c < rows.size(1); ++c)
    EXPECT_NEAR(rows.data<float>()[2 * rows.size(1) + c], want.data<float>()[c], 1e-5);
  const auto r = records(dir_ / "one" / "part-00003.jsonl");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0]["path"], shard.files[0]);
  EXPECT_EQ(r[0]["status"], "ok");
  EXPECT_EQ(r[0]["row"], 0);
  EXPECT_EQ(r[0]["bytes"], fs::file_size(shard.files[0]));
  EXPECT_EQ(r[2]["status"], "error");
  EXPECT_NE(r[2]["error"].get<std::string>().find("broken.png"), std::string::npos);
  EXPECT_EQ(r[3]["row"], 2);

  options.dtype = clip::DType::Float16;
  clip::embed_part(model, preprocess, shard, 0, dir_ / "one", options);
  EXPECT_EQ(clip::load_npy(dir_ / "one" / "part-00000.npy").dtype(), clip::DType::Float16);
}

TEST_F(Collection, ARunFolderIsCheckedResumedAndListed) {
  auto [model, preprocess] = clip::load("demo-shapes");
  fs::create_directories(dir_ / "in");
  for (const char* name : {"red-star.png", "blue-circle.png", "yellow-triangle.png"})
    fs::copy_file(example(name), dir_ / "in" / name);
  write_tar(dir_ / "in" / "shard.tar", {{"k.png", read_bytes(example("red-star.png"))}, {"k2.txt", "caption"}});
  const clip::CollectionPlan plan = clip::plan_collection({(dir_ / "in").string()}, 2);
  ASSERT_EQ(plan.shards.size(), 3u);
  clip::RunInfo info;
  info.model = "demo-shapes";
  info.check = clip::model_check(model);
  info.part_size = 2;
  const fs::path out = dir_ / "out";
  clip::begin_run(out, plan, info);
  clip::begin_run(out, plan, info);  // the same run again: accepted
  clip::RunInfo other = info;
  other.batch = 8;
  try {
    clip::begin_run(out, plan, other);
    ADD_FAILURE() << "another batch size was accepted";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch 16 there, 8 now"), std::string::npos) << e.what();
  }
  const clip::CollectionPlan fewer = clip::plan_collection({(dir_ / "in" / "blue-circle.png").string()}, 2);
  EXPECT_THROW(clip::begin_run(out, fewer, info), clip::Error);

  clip::embed_part(model, preprocess, plan.shards[0], 0, out, {});
  EXPECT_THROW(clip::finish_run(out), clip::Error);  // parts 1 and 2 are missing
  EXPECT_THROW(clip::read_embeddings(out), clip::Error);
  std::ofstream(out / "part-00001.npy.tmp123") << "left by a killed writer";
  clip::embed_part(model, preprocess, plan.shards[1], 1, out, {});
  clip::embed_part(model, preprocess, plan.shards[2], 2, out, {});
  const clip::PartSummary total = clip::finish_run(out);
  EXPECT_EQ(total.items, 5u);  // 3 files + 2 samples (one without an image)
  EXPECT_EQ(total.embedded, 4u);
  EXPECT_EQ(total.failed, 1u);
  EXPECT_FALSE(fs::exists(out / "part-00001.npy.tmp123"));
  std::ifstream in(out / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_EQ(manifest["part_list"].size(), 3u);
  EXPECT_EQ(manifest["part_list"][2]["npy_sha256"], clip::sha256_file(out / "part-00002.npy"));
  EXPECT_EQ(manifest["embedded"], 4);

  const clip::Embeddings e = clip::read_embeddings(out);
  ASSERT_EQ(e.features.size(0), 4);
  EXPECT_EQ(e.items[2], (dir_ / "in" / "shard.tar").string() + "#k.png");  // blue, red | tar | yellow
  EXPECT_EQ(e.model, "demo-shapes");
  clip::check_embeddings(e, out.string(), model, "demo-shapes");
}

}  // namespace
