// CIE L*a*b* (Pillow's mode LAB) to RGB: Image.convert("RGB") of Pillow 9.4, which goes
// through LittleCMS (ImageCms: the built-in D50 Lab profile to sRGB, perceptual intent).
#pragma once

#include <cstdint>
#include <span>

namespace clip::image {

// `lab` holds L, a, b bytes (a and b offset by 128) per pixel, `rgb` receives R, G, B.
void lab_to_rgb(std::span<const std::uint8_t> lab, std::span<std::uint8_t> rgb);

}  // namespace clip::image
