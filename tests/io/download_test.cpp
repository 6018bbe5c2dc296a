// Downloads end to end against a local HTTP server: success, checksum mismatch, truncated
// body and resume, 404, the hub's published hash, the model registry and cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/error.h"
#include "clip/model.h"
#include "clip/models.h"
#include "clip/npy.h"
#include "http_test_server.h"
#include "test_data.h"

namespace {

using clip::test::HttpTestServer;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string payload() {
  std::string s;
  for (unsigned i = 0; i < 300000; ++i) s.push_back(static_cast<char>((i * 7919u) % 251u));
  return s;
}

// SHA256 of payload(), computed through the library on a local copy.
std::string payload_sha(const std::filesystem::path& dir) {
  std::ofstream(dir / "ref.bin", std::ios::binary) << payload();
  return clip::sha256_file(dir / "ref.bin");
}

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("clip_download_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  HttpTestServer server;
};

TEST_F(Download, SucceedsAndVerifies) {
  server.route("/model.pt", {200, payload()});
  const std::string sha = payload_sha(dir);
  EXPECT_EQ(clip::download_file(server.url("/model.pt"), dir / "model.pt", sha, false), sha);
  EXPECT_EQ(read_file(dir / "model.pt"), payload());
  EXPECT_FALSE(std::filesystem::exists(dir / "model.pt.part"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model.pt.sha256"));
}

TEST_F(Download, ChecksumMismatchLeavesNothing) {
  server.route("/model.pt", {200, payload()});
  const std::string wrong(64, 'a');
  try {
    clip::download_file(server.url("/model.pt"), dir / "model.pt", wrong, false);
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "model.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.pt.part"));
}

TEST_F(Download, HubPublishedHashIsChecked) {
  server.route("/hub.safetensors", {200, payload(), {{"X-Linked-Etag", "\"" + std::string(64, 'b') + "\""}}});
  EXPECT_THROW(clip::download_file(server.url("/hub.safetensors"), dir / "hub.safetensors", "", false), clip::Error);
  server.route("/hub.safetensors", {200, payload(), {{"X-Linked-Etag", "\"" + payload_sha(dir) + "\""}}});
  EXPECT_EQ(clip::download_file(server.url("/hub.safetensors"), dir / "hub.safetensors", "", false), payload_sha(dir));
}

TEST_F(Download, TruncatedBodyThenResume) {
  const std::string sha = payload_sha(dir);
  HttpTestServer::Response cut{200, payload()};
  cut.cut_after = 100000;
  server.route("/model.pt", cut);
  EXPECT_THROW(clip::download_file(server.url("/model.pt"), dir / "model.pt", sha, false), clip::Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.pt"));
  EXPECT_EQ(std::filesystem::file_size(dir / "model.pt.part"), 100000u);

  server.route("/model.pt", {200, payload()});
  EXPECT_EQ(clip::download_file(server.url("/model.pt"), dir / "model.pt", sha, false), sha);
  EXPECT_EQ(read_file(dir / "model.pt"), payload());
  EXPECT_NE(server.requests().back().find("Range: bytes=100000-"), std::string::npos);
}

TEST_F(Download, ServerWithoutRangesRestarts) {
  const std::string sha = payload_sha(dir);
  std::ofstream(dir / "model.pt.part", std::ios::binary) << "stale bytes";
  HttpTestServer::Response no_ranges{200, payload()};
  no_ranges.ranges = false;
  server.route("/model.pt", no_ranges);
  EXPECT_EQ(clip::download_file(server.url("/model.pt"), dir / "model.pt", sha, false), sha);
  EXPECT_EQ(read_file(dir / "model.pt"), payload());
}

// Issue #15: an endless body (no Content-Length) was taken whole; it stops at the limit.
TEST_F(Download, EndlessBodyStopsAtTheLimit) {
  HttpTestServer::Response endless{200, payload()};
  endless.endless = std::size_t{1} << 30;  // 1 GiB on offer
  server.route("/endless.pt", endless);
  try {
    clip::download_file(server.url("/endless.pt"), dir / "endless.pt", "", false, 1 << 20);
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the limit of 1048576 bytes"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "endless.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir / "endless.pt.part"));
  // A declared size over the limit is refused before the body.
  server.route("/big.pt", {200, payload()});
  EXPECT_THROW(clip::download_file(server.url("/big.pt"), dir / "big.pt", "", false, 1000), clip::Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "big.pt"));
}

// Issue #15: a link planted at <cache>/<file>.part, with a server that ignores the Range
// request, made the download truncate and overwrite the link's target.
TEST_F(Download, PlantedLinkInTheCacheIsNeverFollowed) {
  const std::string sha = payload_sha(dir);
  std::ofstream(dir / "victim.txt") << "precious";
  std::filesystem::create_directories(dir / "cache");
  std::filesystem::create_symlink(dir / "victim.txt", dir / "cache" / "model.pt.part");
  std::filesystem::create_symlink(dir / "victim.txt", dir / "cache" / "model.pt.sha256");
  HttpTestServer::Response no_ranges{200, payload()};
  no_ranges.ranges = false;
  server.route("/model.pt", no_ranges);
  EXPECT_EQ(clip::download_file(server.url("/model.pt"), dir / "cache" / "model.pt", sha, false), sha);
  EXPECT_EQ(read_file(dir / "victim.txt"), "precious");
  EXPECT_EQ(read_file(dir / "cache" / "model.pt"), payload());
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "cache" / "model.pt.sha256"));
}

// Issue #15: without an expected hash and without a published one, the file was renamed
// into the cache with a .sha256 marker, and so treated as verified.
TEST_F(Download, UnverifiedFileIsNeverMarkedVerified) {
  server.route("/model.safetensors", {200, payload()});
  EXPECT_EQ(clip::download_file(server.url("/model.safetensors"), dir / "model.safetensors", "", false),
            payload_sha(dir));
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.sha256"));
}

TEST_F(Download, CacheFolderIsOwnerOnly) {
  server.route("/model.pt", {200, payload()});
  clip::download_file(server.url("/model.pt"), dir / "new-cache" / "model.pt", payload_sha(dir), false);
  const auto perms = std::filesystem::status(dir / "new-cache").permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
}

// Issue #14: a folder as the mirror ("CLIP_MIRROR=/some/dir") was a bad URL; the offline
// error now says how to work without the network.
TEST_F(Download, AFolderIsAMirrorAndFailuresSayHowToWorkOffline) {
  clip::DownloadOptions options;
  options.root = dir / "cache";
  options.mirror = (dir / "mirror").string() + "/";
  options.mirror_only = true;
  options.progress = false;
  std::filesystem::create_directories(dir / "mirror");
  std::ofstream(dir / "mirror" / "RN50.pt") << "not the official file";
  try {
    clip::download_model("RN50", options);
    FAIL();
  } catch (const clip::Error& e) {
    // The folder was read (the file's hash was checked), and the advice is there.
    EXPECT_NE(std::string(e.what()).find("does not match the expected afeb0e10"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(
                  "Set CLIP_MIRROR to a folder or URL that holds RN50.pt, or pass the path of a checkpoint file"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Download, NotFoundIsAClearError) {
  try {
    clip::download_file(server.url("/missing.pt"), dir / "missing.pt", "", false);
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 404"), std::string::npos) << e.what();
  }
}

TEST_F(Download, ModelsFromAMirror) {
  EXPECT_EQ(clip::available_models(), (std::vector<std::string>{"RN50", "RN101", "RN50x4", "RN50x16", "RN50x64",
                                                                "ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336px"}));
  clip::DownloadOptions options;
  options.root = dir / "cache";
  options.mirror = server.url("");
  options.mirror_only = true;
  options.progress = false;
  EXPECT_TRUE(clip::cached_model("ViT-B/32", options).empty());
  // The mirror's file is not the official one: refused by the pinned SHA256.
  server.route("/ViT-B-32.pt", {200, payload()});
  try {
    clip::download_model("ViT-B/32", options);
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the expected 40d36571"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "cache" / "ViT-B-32.pt"));
  EXPECT_THROW(clip::download_model("ViT-B/64", options), clip::Error);
  // A verified file in the cache is used without any request.
  std::filesystem::create_directories(dir / "cache");
  std::ofstream(dir / "cache" / "RN50.safetensors") << "weights";
  std::ofstream(dir / "cache" / "RN50.safetensors.sha256") << std::string(64, 'c') << " 7\n";
  const auto before = server.requests().size();
  EXPECT_EQ(clip::download_model("RN50", options), dir / "cache" / "RN50.safetensors");
  EXPECT_EQ(server.requests().size(), before);
}

}  // namespace

namespace {

// open_clip's pretrained models by name: the registry agrees with open_clip's own table
// (../shared/fixtures/open_clip/pretrained_openai_arch.json, 101 pairs), row for row.
TEST(OpenClipRegistry, AgreesWithOpenClipsTable) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/open_clip/pretrained_openai_arch.json");
  const nlohmann::json table = nlohmann::json::parse(std::ifstream(path));
  const std::vector<std::string> names = clip::open_clip_models();
  ASSERT_EQ(names.size(), table.at("models").size());
  for (const nlohmann::json& row : table.at("models")) {
    const std::string name = row.at("model").get<std::string>() + ":" + row.at("tag").get<std::string>();
    ASSERT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    EXPECT_EQ(clip::open_clip_hub_repo(name) + "/", row.at("hf_hub_repo").get<std::string>() + "/") << name;
    const nlohmann::json config = nlohmann::json::parse(clip::open_clip_config(name));
    const nlohmann::json &m = config.at("model_cfg"), &v = m.at("vision_cfg"), &t = m.at("text_cfg"),
                         &p = config.at("preprocess_cfg");
    EXPECT_EQ(m.at("embed_dim"), row.at("embed_dim")) << name;
    EXPECT_EQ(v.at("image_size"), row.at("image_size")) << name;
    EXPECT_EQ(v.at("layers"), row.at("vision_layers")) << name;
    EXPECT_EQ(v.at("width"), row.at("vision_width")) << name;
    EXPECT_EQ(v.value("patch_size", nlohmann::json()), row.at("patch_size")) << name;
    EXPECT_EQ(v.value("head_width", 64), row.at("head_width")) << name;
    EXPECT_EQ(t.value("context_length", 77), row.at("context_length")) << name;
    EXPECT_EQ(t.value("vocab_size", 49408), row.at("vocab_size")) << name;
    EXPECT_EQ(t.at("width"), row.at("text_width")) << name;
    EXPECT_EQ(t.value("heads", 8), row.at("text_heads")) << name;
    EXPECT_EQ(t.at("layers"), row.at("text_layers")) << name;
    // The weights' own activation: QuickGELU where they were trained with it.
    EXPECT_EQ(m.value("quick_gelu", false), row.at("activation_trained") == "QuickGELU") << name;
    for (int i = 0; i < 3; ++i) {
      EXPECT_FLOAT_EQ(p.at("mean")[i].get<float>(), row.at("mean")[i].get<float>()) << name;
      EXPECT_FLOAT_EQ(p.at("std")[i].get<float>(), row.at("std")[i].get<float>()) << name;
    }
    EXPECT_EQ(p.at("interpolation"), row.at("interpolation")) << name;
    EXPECT_EQ(p.at("resize_mode"), row.at("resize_mode")) << name;
  }
}

// A registry name downloads the hub's weights (checked against the hash the hub publishes)
// with the registry's configuration beside them; hf-hub:ORG/REPO takes the repository's
// configuration. The "hub" is the local server, serving the open_clip fixtures.
TEST_F(Download, OpenClipModelsByNameFromTheHub) {
  CLIP_REQUIRE_SHARED_FILE(fixture, "fixtures/open_clip/oc-rn-quickgelu");
  const std::string weights = read_file(fixture / "open_clip_model.safetensors");
  const std::string sha = clip::sha256_file(fixture / "open_clip_model.safetensors");
  const std::string name = "RN50-quickgelu:yfcc15m";
  const std::string repo = clip::open_clip_hub_repo(name);
  server.route("/" + repo + "/resolve/main/open_clip_model.safetensors", {200, weights, {{"X-Linked-Etag", sha}}});
  server.route("/test/oc-rn/resolve/main/open_clip_model.safetensors", {200, weights, {{"X-Linked-Etag", sha}}});
  server.route("/test/oc-rn/resolve/main/open_clip_config.json", {200, read_file(fixture / "open_clip_config.json")});
  server.route("/test/unverified/resolve/main/open_clip_model.safetensors", {200, weights});
  ::setenv("CLIP_HUB_ENDPOINT", server.url("").c_str(), 1);
  clip::DownloadOptions options;
  options.root = dir;
  options.progress = false;

  const std::filesystem::path path = clip::download_open_clip_model(name, options);
  EXPECT_EQ(read_file(path), weights);
  EXPECT_EQ(read_file(path.parent_path() / "open_clip_config.json"), clip::open_clip_config(name) + "\n");
  try {  // the fixture is not RN50: the registry's numbers are checked against the weights
    clip::Checkpoint::load(path).config();
    ADD_FAILURE() << "a tiny model passed for RN50";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("embed_dim is 1024 but the weights say 32"), std::string::npos) << e.what();
  }

  const auto [model, preprocess] = clip::load("hf-hub:test/oc-rn", "cpu", false, dir);
  const clip::Tensor features = model.encode_image(clip::load_npy(fixture / "images.f32.npy"));
  const clip::Tensor golden = clip::load_npy(fixture / "image_features.f32.npy");
  for (std::int64_t i = 0; i < golden.numel(); ++i)
    EXPECT_NEAR(features.data<float>()[i], golden.data<float>()[i], 1e-4) << i;

  EXPECT_THROW(clip::download_open_clip_model("hf-hub:test/unverified", options), clip::Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "open_clip" / "test--unverified" / "open_clip_model.safetensors"));
  EXPECT_THROW(clip::download_open_clip_model("ViT-Z-99:nothing", options), clip::Error);
  ::unsetenv("CLIP_HUB_ENDPOINT");
}

}  // namespace
