// Pillow 9.4's Image.convert("RGB") for mode LAB (Image.py: ImageCms.buildTransform of
// createProfile("LAB") to createProfile("sRGB"), then transform.apply).
#include "image/lab.h"

#include <lcms2.h>

#include <memory>
#include <vector>

#include "clip/error.h"

namespace clip::image {
namespace {

struct ProfileCloser {
  void operator()(void* p) const { cmsCloseProfile(p); }
};
struct TransformDeleter {
  void operator()(void* t) const { cmsDeleteTransform(t); }
};

}  // namespace

void lab_to_rgb(std::span<const std::uint8_t> lab, std::span<std::uint8_t> rgb) {
  // Made per call with Pillow's arguments (a transform shares a one-pixel cache between
  // threads, and LAB images are rare): pixels of four bytes as Pillow stores them
  // (_imagingcms.c findLCMStype: "LAB" as LabV2 + one extra byte, "RGB" as RGBA_8).
  const std::unique_ptr<void, ProfileCloser> lab_profile(cmsCreateLab2Profile(nullptr)), srgb(cmsCreate_sRGBProfile());
  const std::unique_ptr<void, TransformDeleter> transform(
      lab_profile && srgb
          ? cmsCreateTransform(lab_profile.get(), COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) | EXTRA_SH(1),
                               srgb.get(), TYPE_RGBA_8, INTENT_PERCEPTUAL, 0)
          : nullptr);
  if (!transform) throw Error("LittleCMS could not build the Lab to sRGB transform");
  const std::size_t n = lab.size() / 3, chunk = 4096;
  std::vector<std::uint8_t> in(chunk * 4), out(chunk * 4);
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t count = std::min(chunk, n - start);
    for (std::size_t i = 0; i < count; ++i)
      for (int c = 0; c < 3; ++c) in[i * 4 + c] = lab[(start + i) * 3 + c];
    cmsDoTransform(transform.get(), in.data(), out.data(), static_cast<cmsUInt32Number>(count));
    for (std::size_t i = 0; i < count; ++i)
      for (int c = 0; c < 3; ++c) rgb[(start + i) * 3 + c] = out[i * 4 + c];
  }
}

}  // namespace clip::image
