// BC6H and BC7 (BPTC) blocks as Pillow 9.4's BcnDecode.c decodes them. The block layouts,
// partitions, anchors and weights are those of the format (Khronos
// ARB_texture_compression_bptc, Direct3D 11's BC6H/BC7); where Pillow departs from the format
// it is followed, and each such place says so. Written here because no Debian library decodes
// BPTC (libsquish stops at BC3; NVIDIA Texture Tools' public header, at BC5, compresses only),
// and Pillow's half-float-to-byte rule is its own anyway.
#include "image/bptc.h"

#include <bit>
#include <cmath>
#include <string_view>
#include <vector>

namespace clip::image {
namespace {

// Bits of a block, least significant first.
class Bits {
 public:
  Bits(BlockBytes src, int at) : src_(src), at_(at) {}
  unsigned take(int count) {
    unsigned v = 0;
    for (int i = 0; i < count; ++i, ++at_) v |= ((src_[static_cast<std::size_t>(at_ >> 3)] >> (at_ & 7)) & 1u) << i;
    return v;
  }
  int at() const { return at_; }

 private:
  BlockBytes src_;
  int at_;
};

// Which subset each of the 16 pixels belongs to, per partition: two subsets, then three.
constexpr std::string_view kPartitions2[64] = {
    "0011001100110011", "0001000100010001", "0111011101110111", "0001001100110111", "0000000100010011",
    "0011011101111111", "0001001101111111", "0000000100110111", "0000000000010011", "0011011111111111",
    "0000000101111111", "0000000000010111", "0001011111111111", "0000000011111111", "0000111111111111",
    "0000000000001111", "0000100011101111", "0111000100000000", "0000000010001110", "0111001100010000",
    "0011000100000000", "0000100011001110", "0000000010001100", "0111001100110001", "0011000100010000",
    "0000100010001100", "0110011001100110", "0011011001101100", "0001011111101000", "0000111111110000",
    "0111000110001110", "0011100110011100", "0101010101010101", "0000111100001111", "0101101001011010",
    "0011001111001100", "0011110000111100", "0101010110101010", "0110100101101001", "0101101010100101",
    "0111001111001110", "0001001111001000", "0011001001001100", "0011101111011100", "0110100110010110",
    "0011110011000011", "0110011010011001", "0000011001100000", "0100111001000000", "0010011100100000",
    "0000001001110010", "0000010011100100", "0110110010010011", "0011011011001001", "0110001110011100",
    "0011100111000110", "0110110011001001", "0110001100111001", "0111111010000001", "0001100011100111",
    "0000111100110011", "0011001111110000", "0010001011101110", "0100010001110111",
};
constexpr std::string_view kPartitions3[64] = {
    "0011001102212222", "0001001122112221", "0000200122112211", "0222002200110111", "0000000011221122",
    "0011001100220022", "0022002211111111", "0011001122112211", "0000000011112222", "0000111111112222",
    "0000111122222222", "0012001200120012", "0112011201120112", "0122012201220122", "0011011211221222",
    "0011200122002220", "0001001101121122", "0111001120012200", "0000112211221122", "0022002200221111",
    "0111011102220222", "0001000122212221", "0000001101220122", "0000110022102210", "0122012200110000",
    "0012001211222222", "0110122112210110", "0000011012211221", "0022110211020022", "0110011020022222",
    "0011012201220011", "0000200022112221", "0000000211221222", "0222002200120011", "0011001200220222",
    "0120012001200120", "0000111122220000", "0120120120120120", "0120201212010120", "0011220011220011",
    "0011112222000011", "0101010122222222", "0000000021212121", "0022112200221122", "0022001100220011",
    "0220122102201221", "0101222222220101", "0000212121212121", "0101010101012222", "0222011102220111",
    "0002111200021112", "0000211221122112", "0222011101110222", "0002111211120002", "0110011001102222",
    "0000000021122112", "0110011022222222", "0022001100110022", "0022112211220022", "0000000000002112",
    "0002000100020001", "0222122202221222", "0101222222222222", "0111201122012220",
};
// The anchor pixel (index stored one bit short) of subset 1 with two subsets; of subsets 1
// and 2 with three. Subset 0's is always pixel 0.
constexpr std::uint8_t kAnchor2[64] = {15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
                                       15, 2,  8,  2,  2,  8,  8,  15, 2,  8,  2,  2,  8,  8,  2,  2,
                                       15, 15, 6,  8,  2,  8,  15, 15, 2,  8,  2,  2,  2,  15, 15, 6,
                                       6,  2,  6,  8,  15, 15, 2,  2,  15, 15, 15, 15, 15, 2,  2,  15};
constexpr std::uint8_t kAnchor3a[64] = {
    3, 3,  15, 15, 8, 3,  15, 15, 8,  8, 6,  6, 6,  5,  3,  3,  3, 3,  8, 15, 3, 3, 6, 10, 5, 8,  8, 6,  8,  5,  15, 15,
    8, 15, 3,  5,  6, 10, 8,  15, 15, 3, 15, 5, 15, 15, 15, 15, 3, 15, 5, 5,  5, 8, 5, 10, 5, 10, 8, 13, 15, 12, 3,  3};
constexpr std::uint8_t kAnchor3b[64] = {15, 8, 8,  3,  15, 15, 3,  8,  15, 15, 15, 15, 15, 15, 15, 8,
                                        15, 8, 15, 3,  15, 8,  15, 8,  3,  15, 6,  10, 15, 15, 10, 8,
                                        15, 3, 15, 10, 10, 8,  9,  10, 6,  15, 8,  15, 3,  6,  6,  8,
                                        15, 3, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 3,  15, 15, 8};

// Interpolation weights (of 64) for indices of 2, 3 and 4 bits.
const std::uint8_t* weights(int index_bits) {
  static constexpr std::uint8_t w2[] = {0, 21, 43, 64}, w3[] = {0, 9, 18, 27, 37, 46, 55, 64},
                                w4[] = {0, 4, 9, 13, 17, 21, 26, 30, 34, 38, 43, 47, 51, 55, 60, 64};
  return index_bits == 2 ? w2 : index_bits == 3 ? w3 : w4;
}

int subset_of(int subsets, unsigned partition, int pixel) {
  if (subsets == 1) return 0;
  return (subsets == 2 ? kPartitions2 : kPartitions3)[partition][static_cast<std::size_t>(pixel)] - '0';
}

bool is_anchor(int subsets, unsigned partition, int pixel) {
  return pixel == 0 || (subsets == 2 && pixel == kAnchor2[partition]) ||
         (subsets == 3 && (pixel == kAnchor3a[partition] || pixel == kAnchor3b[partition]));
}

// ------------------------------------------------------------------------------------ BC7
struct Bc7Mode {
  int subsets, partition_bits, rotation_bits, selector_bits, colour_bits, alpha_bits;
  bool endpoint_pbit, shared_pbit;  // a p-bit per end point, or one per subset
  int index_bits, index2_bits;      // index2: a second index set (alpha, or colour if selected)
};
constexpr Bc7Mode kBc7Modes[8] = {{3, 4, 0, 0, 4, 0, true, false, 3, 0},  {2, 6, 0, 0, 6, 0, false, true, 3, 0},
                                  {3, 6, 0, 0, 5, 0, false, false, 2, 0}, {2, 6, 0, 0, 7, 0, true, false, 2, 0},
                                  {1, 0, 2, 1, 5, 6, false, false, 2, 3}, {1, 0, 2, 0, 7, 8, false, false, 2, 2},
                                  {1, 0, 0, 0, 7, 7, true, false, 4, 0},  {2, 6, 0, 0, 5, 5, true, false, 2, 0}};

// An end point of `bits` bits to 8, its top bits repeated below.
int expand(int v, int bits) {
  v <<= 8 - bits;
  return v | (v >> bits);
}

std::uint8_t lerp8(int a, int b, int weight) {
  return static_cast<std::uint8_t>(((64 - weight) * a + weight * b + 32) >> 6);
}

}  // namespace

void decode_bc7_block(BlockBytes src, Block& out) {
  if (src[0] == 0) {  // no mode: reserved in the format; Pillow gives opaque black
    out.fill(Rgba{0, 0, 0, 255});
    return;
  }
  const int mode_number = std::countr_zero(src[0]);
  const Bc7Mode& m = kBc7Modes[mode_number];
  Bits bits(src, mode_number + 1);
  const unsigned partition = bits.take(m.partition_bits), rotation = bits.take(m.rotation_bits),
                 selector = bits.take(m.selector_bits);
  const int ends = 2 * m.subsets;
  int e[6][4];
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < ends; ++i) e[i][c] = static_cast<int>(bits.take(m.colour_bits));
  for (int i = 0; i < ends; ++i) e[i][3] = m.alpha_bits ? static_cast<int>(bits.take(m.alpha_bits)) : 255;
  const int channels = m.alpha_bits ? 4 : 3;  // alpha without bits stays 255
  int colour_bits = m.colour_bits, alpha_bits = m.alpha_bits;
  if (m.endpoint_pbit || m.shared_pbit) {
    ++colour_bits, alpha_bits += alpha_bits ? 1 : 0;
    unsigned p = 0;
    for (int i = 0; i < ends; ++i) {
      if (m.endpoint_pbit || i % 2 == 0) p = bits.take(1);
      for (int c = 0; c < channels; ++c) e[i][c] = (e[i][c] << 1) | static_cast<int>(p);
    }
  }
  for (int i = 0; i < ends; ++i)
    for (int c = 0; c < channels; ++c) e[i][c] = expand(e[i][c], c < 3 ? colour_bits : alpha_bits);

  const std::uint8_t *colour_weights = weights(m.index_bits),
                     *alpha_weights = weights(m.index2_bits ? m.index2_bits : m.index_bits);
  Bits index1 = bits, index2(src, bits.at() + 16 * m.index_bits - m.subsets);
  for (int px = 0; px < 16; ++px) {
    const int s = subset_of(m.subsets, partition, px);
    const bool anchor = is_anchor(m.subsets, partition, px);
    const unsigned i1 = index1.take(m.index_bits - (anchor ? 1 : 0));
    int colour_w = colour_weights[i1], alpha_w = colour_weights[i1];
    if (m.index2_bits) {
      const unsigned i2 = index2.take(m.index2_bits - (px == 0 ? 1 : 0));
      colour_w = selector ? alpha_weights[i2] : colour_weights[i1];
      alpha_w = selector ? colour_weights[i1] : alpha_weights[i2];
    }
    Rgba& p = out[static_cast<std::size_t>(px)];
    for (int c = 0; c < 4; ++c) p[c] = lerp8(e[2 * s][c], e[2 * s + 1][c], c < 3 ? colour_w : alpha_w);
    if (rotation) std::swap(p[rotation - 1], p[3]);
  }
}

// ----------------------------------------------------------------------------------- BC6H
namespace {

struct Bc6Mode {
  int subsets;
  bool transformed;  // end points after the first stored as differences from it
  int endpoint_bits, delta_bits[3];
  // Where the end points' bits are stored, after the mode bits, as Direct3D 11's table
  // writes it: r/g/b, then w/x/y/z for end point 0-3 (0 and 1: subset 0; 2 and 3: subset 1),
  // then [n] for one bit or [p:q] for bits q, q+-1, ..., p stored in that order.
  std::string_view layout;
};
// By the mode code: 00 and 01 (two bits), then the five-bit codes 00010, 00110, ... (rows
// 2-9) and 00011, 00111, 01011, 01111 (rows 10-13); the other four five-bit codes are reserved.
constexpr Bc6Mode kBc6Modes[14] = {
    {2,
     true,
     10,
     {5, 5, 5},
     "gy[4] by[4] bz[4] rw[9:0] gw[9:0] bw[9:0] rx[4:0] gz[4] gy[3:0] gx[4:0] bz[0] gz[3:0] "
     "bx[4:0] bz[1] by[3:0] ry[4:0] bz[2] rz[4:0] bz[3]"},
    {2,
     true,
     7,
     {6, 6, 6},
     "gy[5] gz[5:4] rw[6:0] bz[1:0] by[4] gw[6:0] by[5] bz[2] gy[4] bw[6:0] bz[3] bz[4:5] "
     "rx[5:0] gy[3:0] gx[5:0] gz[3:0] bx[5:0] by[3:0] ry[5:0] rz[5:0]"},
    {2,
     true,
     11,
     {5, 4, 4},
     "rw[9:0] gw[9:0] bw[9:0] rx[4:0] rw[10] gy[3:0] gx[3:0] gw[10] bz[0] gz[3:0] bx[3:0] "
     "bw[10] bz[1] by[3:0] ry[4:0] bz[2] rz[4:0] bz[3]"},
    {2,
     true,
     11,
     {4, 5, 4},
     "rw[9:0] gw[9:0] bw[9:0] rx[3:0] rw[10] gz[4] gy[3:0] gx[4:0] gw[10] gz[3:0] bx[3:0] "
     "bw[10] bz[1] by[3:0] ry[3:0] bz[0] bz[2] rz[3:0] gy[4] bz[3]"},
    {2,
     true,
     11,
     {4, 4, 5},
     "rw[9:0] gw[9:0] bw[9:0] rx[3:0] rw[10] by[4] gy[3:0] gx[3:0] gw[10] bz[0] gz[3:0] "
     "bx[4:0] bw[10] by[3:0] ry[3:0] bz[2:1] rz[3:0] bz[3:4]"},
    {2,
     true,
     9,
     {5, 5, 5},
     "rw[8:0] by[4] gw[8:0] gy[4] bw[8:0] bz[4] rx[4:0] gz[4] gy[3:0] gx[4:0] bz[0] gz[3:0] "
     "bx[4:0] bz[1] by[3:0] ry[4:0] bz[2] rz[4:0] bz[3]"},
    {2,
     true,
     8,
     {6, 5, 5},
     "rw[7:0] gz[4] by[4] gw[7:0] bz[2] gy[4] bw[7:0] bz[4:3] rx[5:0] gy[3:0] gx[4:0] bz[0] "
     "gz[3:0] bx[4:0] bz[1] by[3:0] ry[5:0] rz[5:0]"},
    {2,
     true,
     8,
     {5, 6, 5},
     "rw[7:0] bz[0] by[4] gw[7:0] gy[4:5] bw[7:0] gz[5] bz[4] rx[4:0] gz[4] gy[3:0] gx[5:0] "
     "gz[3:0] bx[4:0] bz[1] by[3:0] ry[4:0] bz[2] rz[4:0] bz[3]"},
    {2,
     true,
     8,
     {5, 5, 6},
     "rw[7:0] bz[1] by[4] gw[7:0] by[5] gy[4] bw[7:0] bz[4:5] rx[4:0] gz[4] gy[3:0] gx[4:0] "
     "bz[0] gz[3:0] bx[5:0] by[3:0] ry[4:0] bz[2] rz[4:0] bz[3]"},
    {2,
     false,
     6,
     {6, 6, 6},
     "rw[5:0] gz[4] bz[1:0] by[4] gw[5:0] gy[5] by[5] bz[2] gy[4] bw[5:0] gz[5] bz[3] "
     "bz[4:5] rx[5:0] gy[3:0] gx[5:0] gz[3:0] bx[5:0] by[3:0] ry[5:0] rz[5:0]"},
    {1, false, 10, {10, 10, 10}, "rw[9:0] gw[9:0] bw[9:0] rx[9:0] gx[9:0] bx[9:0]"},
    {1, true, 11, {9, 9, 9}, "rw[9:0] gw[9:0] bw[9:0] rx[8:0] rw[10] gx[8:0] gw[10] bx[8:0] bw[10]"},
    {1, true, 12, {8, 8, 8}, "rw[9:0] gw[9:0] bw[9:0] rx[7:0] rw[10:11] gx[7:0] gw[10:11] bx[7:0] bw[10:11]"},
    {1, true, 16, {4, 4, 4}, "rw[9:0] gw[9:0] bw[9:0] rx[3:0] rw[10:15] gx[3:0] gw[10:15] bx[3:0] bw[10:15]"},
};

// One stored bit: which of the 12 end-point values (end point * 3 + channel) and which bit.
struct StoredBit {
  std::uint8_t value, bit;
};

// A mode's layout as the list of its stored bits, in storage order.
std::vector<StoredBit> parse_layout(std::string_view layout) {
  std::vector<StoredBit> out;
  for (std::size_t at = 0; at < layout.size();) {
    if (layout[at] == ' ') {
      ++at;
      continue;
    }
    const int channel = static_cast<int>(std::string_view("rgb").find(layout[at]));
    const int end = static_cast<int>(std::string_view("wxyz").find(layout[at + 1]));
    const std::size_t close = layout.find(']', at);
    const std::string_view range = layout.substr(at + 3, close - at - 3);
    const std::size_t colon = range.find(':');
    const auto number = [](std::string_view s) {
      int v = 0;
      for (const char c : s) v = v * 10 + (c - '0');
      return v;
    };
    const int last = number(range.substr(0, colon)),
              first = colon == std::string_view::npos ? last : number(range.substr(colon + 1));
    const int step = last >= first ? 1 : -1;
    for (int b = first;; b += step) {
      out.push_back({static_cast<std::uint8_t>(end * 3 + channel), static_cast<std::uint8_t>(b)});
      if (b == last) break;
    }
    at = close + 1;
  }
  return out;
}

const std::vector<StoredBit>& layout_of(int row) {
  static const auto layouts = [] {
    std::vector<std::vector<StoredBit>> all;
    for (const Bc6Mode& m : kBc6Modes) all.push_back(parse_layout(m.layout));
    return all;
  }();
  return layouts[static_cast<std::size_t>(row)];
}

int sign_extend(int v, int bits) { return (v & (1 << (bits - 1))) ? (v | (-1 << bits)) & 0xFFFF : v; }

// An end point of `bits` bits to the 16-bit range (17 with the sign).
int unquantize(int v, int bits, bool is_signed) {
  if (!is_signed) {
    if (bits >= 15 || v == 0) return v;
    if (v == (1 << bits) - 1) return 0xFFFF;
    return ((v << 15) + 0x4000) >> (bits - 1);
  }
  int x = static_cast<std::int16_t>(v);
  if (bits >= 16) return x;
  const bool negative = x < 0;
  if (negative) x = -x;
  if (x != 0) x = x >= (1 << (bits - 1)) - 1 ? 0x7FFF : ((x << 15) + 0x4000) >> (bits - 1);
  return negative ? -x : x;
}

// An interpolated value to its half float, then to a byte as Pillow does (bc6_finalize,
// bc6_clamp): below 0 is 0, above 1 is 255, else value * 255 in float, truncated. The
// halves reach at most 0x7BFF in magnitude, so no infinity or NaN arises.
std::uint8_t to_byte(int v, bool is_signed) {
  const int half = is_signed ? (v < 0 ? 0x8000 | (-v * 31) / 32 : (v * 31) / 32) : (v * 31) / 64;
  const int exponent = (half >> 10) & 31, mantissa = half & 1023;
  float value = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                              : std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
  if (half & 0x8000) value = -value;
  if (value < 0.0f) return 0;
  if (value > 1.0f) return 255;
  return static_cast<std::uint8_t>(value * 255.0f);
}

}  // namespace

void decode_bc6h_block(BlockBytes src, bool is_signed, Block& out) {
  const unsigned code = src[0] & 0x1F;
  int row = 0, mode_bits = 2;
  if ((code & 3) < 2)
    row = static_cast<int>(code & 3);
  else
    row = ((code & 3) == 2 ? 2 : 10) + static_cast<int>(code >> 2), mode_bits = 5;
  if (row >= 14) {  // reserved
    for (Rgba& p : out) p[0] = p[1] = p[2] = 0;
    return;
  }
  const Bc6Mode& m = kBc6Modes[row];
  Bits bits(src, mode_bits);
  int e[12] = {};
  for (const StoredBit& b : layout_of(row)) e[b.value] |= static_cast<int>(bits.take(1)) << b.bit;
  const unsigned partition = bits.take(m.subsets == 2 ? 5 : 0);
  const int values = 6 * m.subsets, mask = (1 << m.endpoint_bits) - 1;
  if (is_signed)
    for (int c = 0; c < 3; ++c) e[c] = sign_extend(e[c], m.endpoint_bits);
  if (is_signed || m.transformed)
    for (int i = 3; i < values; ++i) e[i] = sign_extend(e[i], m.delta_bits[i % 3]);
  // Pillow masks the sums to the end-point width and does not sign-extend them again (the
  // format does, for BC6H_SF16): a negative sum of a signed block reads as a large positive.
  if (m.transformed)
    for (int i = 3; i < values; ++i) e[i] = (e[i] + e[i % 3]) & mask;
  int u[12];
  for (int i = 0; i < values; ++i) u[i] = unquantize(e[i], m.endpoint_bits, is_signed);

  const int index_bits = m.subsets == 2 ? 3 : 4;
  const std::uint8_t* w = weights(index_bits);
  for (int px = 0; px < 16; ++px) {
    const int s = subset_of(m.subsets, partition, px);
    const int weight = w[bits.take(index_bits - (is_anchor(m.subsets, partition, px) ? 1 : 0))];
    for (int c = 0; c < 3; ++c)
      out[static_cast<std::size_t>(px)][static_cast<std::size_t>(c)] =
          to_byte((u[6 * s + c] * (64 - weight) + u[6 * s + 3 + c] * weight) >> 6, is_signed);
  }
}

}  // namespace clip::image
