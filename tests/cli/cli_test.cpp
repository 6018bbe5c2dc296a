// Runs the built `clip` binary as a user would.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/npy.h"
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

}  // namespace

TEST(Cli, TokenizePrintsOneRowPerText) {
  const Result r = run("tokenize --context-length 6 'a dog' 'a cat'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "49406 320 1929 49407 0 0\n49406 320 2368 49407 0 0\n");
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

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run("--help").status, 0);
  EXPECT_EQ(run("tokenize --help").status, 0);
  EXPECT_NE(run("").status, 0);
  EXPECT_NE(run("tokenize").status, 0);
}

TEST(Examples, TokenizeDemoPrintsWhatTheReadmeSays) {
  const auto [status, out] = run_command(CLIP_TOKENIZE_DEMO_PATH);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.substr(0, out.find("Input")),
            "[3, 77] 1929\n3306 267 1002 256 \n[hello , world ! ]\n");
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
    for (const auto& [key, value] : expected["hyperparameters"].items()) EXPECT_EQ(got[key], value) << name << " " << key;
    EXPECT_EQ(got["parameter_count"], expected["parameter_count"]) << name;
    EXPECT_EQ(got["activation"], "quick_gelu");
  }
  EXPECT_EQ(run("inspect /nonexistent.pt").status, 1);
}

TEST(Cli, ModelsListsTheNineNames) {
  const Result r = run("models --root /nonexistent-cache");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "RN50\nRN101\nRN50x4\nRN50x16\nRN50x64\nViT-B/32\nViT-B/16\nViT-L/14\nViT-L/14@336px\n");
}

TEST(Cli, EncodeAndClassifyMatchTheGoldens) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const auto tmp = std::filesystem::temp_directory_path();
  const std::string model = (dir / "model.pt").string();
  Result r = run("encode-image --model " + model + " --input-npy " + (dir / "images.f32.npy").string() + " --out " +
                 (tmp / "clip_cli_img.npy").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const clip::Tensor img = clip::load_npy(tmp / "clip_cli_img.npy"), golden = clip::load_npy(dir / "image_features.f32.npy");
  ASSERT_EQ(img.shape(), golden.shape());
  for (std::int64_t i = 0; i < img.numel(); ++i) EXPECT_NEAR(img.data<float>()[i], golden.data<float>()[i], 1e-3);

  r = run("encode-text --model " + model + " --normalize --out " + (tmp / "clip_cli_txt.npy").string() + " 'a diagram' 'a dog'");
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
  const auto [status, out] = run_command(std::string(CLIP_DEMO_PATH) + " " + (dir / "fixtures/models/vit-b32-tiny/model.pt").string() +
                                         " " + (dir / "assets/CLIP.png").string());
  ASSERT_EQ(status, 0) << out;
  // The reference's e2e_probs for this model: [[0.02047641 0.1452044 0.8343192]]
  EXPECT_EQ(out.rfind("Label probs: [[0.02047", 0), 0u) << out;
  EXPECT_NE(out.find(" 0.14520"), std::string::npos) << out;
  EXPECT_NE(out.find(" 0.83431"), std::string::npos) << out;
}
