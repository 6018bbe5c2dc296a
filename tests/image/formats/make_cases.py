#!/usr/bin/python3
"""Writes the format cases of this folder: small images of every layout the decoders must
read as the reference does (issue #21), and their goldens from the reference itself.

Run with Debian 12's python3-pil (Pillow 9.4.0) and python3-torchvision (0.14.1): the
goldens are what `PIL.Image.open` and the reference transform give there, so the script
refuses any other Pillow. The files are made by the small writers below, Pillow's own
encoders, libheif's heif-enc (libheif-examples), libtiff's tiffcp (libtiff-tools),
OpenJPEG's opj_compress (libopenjp2-tools) and libavif's avifenc (libavif-bin); no image
collection is copied. Deterministic: a re-run writes the same bytes.

Layout, as ../shared/fixtures/preprocess (tests/image/preprocess_fixtures_test.cpp reads
both): images/, golden/<id>_rgb_u8.npy (the uint8 image after Resize + CenterCrop +
convert("RGB")), manifest.jsonl. A case the reference cannot open has "expect_open_error";
one it opens that we do not read yet (a known gap) has "expect_not_supported".

Usage: tests/image/formats/make_cases.py
"""
import io
import json
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
N_PX = 32  # small goldens; every resize path still runs (up- and down-scaling)


def rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------- BMP
def bmp(width, height, bits, rows, *, compression=0, colors=None, palette=b"", masks=b"", header=40,
        offset=None, top_down=False):
    """A BMP file: `rows` is the pixel data as stored (already padded / compressed)."""
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        h = (1 << 32) - height if top_down else height
        info = struct.pack("<IIIHHIIiiII", header, width, h, 1, bits, compression, len(rows), 2835, 2835,
                           colors if colors is not None else 0, 0)
        info += masks[: max(0, header - 40)].ljust(header - 40, b"\0")
        masks = masks[header - 40:] if header == 40 else b""
    start = 14 + len(info) + len(masks) + len(palette)
    off = start if offset is None else offset
    return b"BM" + struct.pack("<IHHI", start + len(rows), 0, 0, off) + info + masks + palette + rows


def stride_rows(data, width, bits, height):
    """Packs rows of bytes (each `width * bits / 8` long, rounded up) to 4-byte strides."""
    row = (width * bits + 7) // 8
    stride = ((width * bits + 31) // 32) * 4
    return b"".join(data[y * row:(y + 1) * row].ljust(stride, b"\0") for y in range(height))


def pack_indices(indices, bits):
    out = bytearray()
    per = 8 // bits
    for i in range(0, len(indices), per):
        byte = 0
        for k, v in enumerate(indices[i:i + per]):
            byte |= v << (8 - bits * (k + 1))
        out.append(byte)
    return bytes(out)


def rows_of(indices, width, height, bits):
    return b"".join(stride_rows(pack_indices(indices[y * width:(y + 1) * width], bits), width, bits, 1)
                    for y in range(height))


def bgrx(colours):
    return b"".join(bytes([b, g, r, 0]) for r, g, b in colours)


def bmp_cases():
    r = rng(21)
    cases = {}
    w, h = 45, 29
    v16 = r.integers(0, 1 << 16, w * h, dtype=np.uint16)
    data16 = b"".join(stride_rows(v16[y * w:(y + 1) * w].astype("<u2").tobytes(), w, 16, 1) for y in range(h))
    cases["bmp_rgb555_raw"] = (bmp(w, h, 16, data16), "16-bit, no compression: 5-5-5")
    cases["bmp_rgb565_bitfields"] = (bmp(w, h, 16, data16, compression=3, masks=struct.pack("<3I", 0xF800, 0x7E0, 0x1F)),
                                     "16-bit BITFIELDS 5-6-5 (40-byte header, masks after it)")
    cases["bmp_rgb555_bitfields_v5"] = (bmp(w, h, 16, data16, compression=3, header=124,
                                            masks=struct.pack("<4I", 0x7C00, 0x3E0, 0x1F, 0)),
                                        "16-bit BITFIELDS 5-5-5, V5 header")
    cases["bmp_rgb4444_bitfields"] = (bmp(w, h, 16, data16, compression=3, header=124,
                                          masks=struct.pack("<4I", 0xF00, 0xF0, 0xF, 0xF000)),
                                      "16-bit BITFIELDS 4-4-4-4: a layout Pillow refuses")
    v32 = r.integers(0, 256, w * h * 4, dtype=np.uint8).tobytes()
    for name, m in {"abgr": (0xFF000000, 0xFF0000, 0xFF00, 0xFF), "rgba": (0xFF, 0xFF00, 0xFF0000, 0xFF000000),
                    "xbgr": (0xFF000000, 0xFF0000, 0xFF00, 0), "zero_masks": (0, 0, 0, 0)}.items():
        cases[f"bmp_32_{name}"] = (bmp(w, h, 32, v32, compression=3, header=124, masks=struct.pack("<4I", *m)),
                                   f"32-bit BITFIELDS {m}")
    cases["bmp_32_raw_alpha_ignored"] = (bmp(w, h, 32, v32), "32-bit, no compression: the 4th byte is not alpha")

    # Palettes: indices past a 16-entry palette; gray ramps that drop the palette.
    pal16 = [tuple(int(c) for c in r.integers(0, 256, 3)) for _ in range(16)]
    idx = [int(i) for i in r.integers(0, 256, w * h)]
    cases["bmp_p8_indices_past_palette"] = (bmp(w, h, 8, rows_of(idx, w, h, 8), colors=16, palette=bgrx(pal16)),
                                            "8-bit, 16 colours, indices up to 255 (Pillow's gray ramp past the end)")
    idx4 = [int(i) for i in r.integers(0, 16, w * h)]
    body4 = rows_of(idx4, w, h, 4)
    cases["bmp_p4_offset_at_palette"] = (bmp(w, h, 4, body4, palette=bgrx(pal16), offset=14 + 40),
                                         "4-bit, pixel offset = end of header: Pillow skips 4 x colours bytes")
    cases["bmp_p4_offset_inside_palette"] = (bmp(w, h, 4, body4, palette=bgrx(pal16), offset=14 + 40 + 24),
                                             "4-bit, pixel offset in the middle of the palette: read from there")
    os2_pal = b"".join(bytes([b, g, rr]) for rr, g, b in pal16 * 16)
    cases["bmp_os2_p8"] = (bmp(w, h, 8, rows_of(idx, w, h, 8), header=12, palette=os2_pal),
                           "OS/2 1.x header (12 bytes), 3-byte palette entries")
    gray16 = bgrx([(i, i, i) for i in range(16)])
    cases["bmp_gray_ramp_4bit_narrow"] = (bmp(3, 20, 4, rows_of(idx4[:60], 3, 20, 4), palette=gray16),
                                          "4-bit with a 0..15 gray palette: Pillow reads the bytes as L")
    cases["bmp_gray_ramp_4bit_wide"] = (bmp(w, h, 4, body4, palette=gray16),
                                        "the same 45 px wide: its rows are too short for L, Pillow fails")
    bw = bgrx([(0, 0, 0), (255, 255, 255)])
    cases["bmp_two_gray_colours_8bit"] = (bmp(w, h, 8, rows_of([i % 2 for i in idx], w, h, 8), colors=2, palette=bw),
                                          "8-bit pixels, black/white palette: Pillow unpacks them as 1 bit each")

    # RLE8 / RLE4, Pillow's decoder quirks included.
    pal256 = [tuple(int(c) for c in r.integers(0, 256, 3)) for _ in range(256)]
    rle8 = bytearray()
    for y in range(h + 3):  # an empty row and overflowing rows use up rows: 3 more
        if y == 5:
            rle8 += bytes([0, 2, 9, 9, 7, 1])  # delta: Pillow skips 9, 9 and moves by (7, 1)
            continue
        if y == 9:
            rle8 += bytes([0, 0])  # an end of line at a row's start adds no row
            continue
        rle8 += bytes([10, int(r.integers(0, 256))])  # encoded run
        rle8 += bytes([0, 5]) + bytes(int(i) for i in r.integers(0, 256, 5)) + b"\0"  # odd absolute run, padded
        if y % 7 == 3:
            rle8 += bytes([0, 40]) + bytes(int(i) for i in r.integers(0, 256, 40))  # past the row's end
        else:
            rle8 += bytes([40, int(r.integers(0, 256))])  # clipped at the row's end
        rle8 += bytes([0, 0])
    rle8 += bytes([0, 1])
    cases["bmp_rle8"] = (bmp(w, h, 8, bytes(rle8), compression=1, palette=bgrx(pal256)),
                         "RLE8: encoded, absolute (odd, padded; past the row end), clipped runs, delta, EOL, EOB")
    cases["bmp_rle8_top_down"] = (bmp(w, h, 8, bytes(rle8), compression=1, palette=bgrx(pal256), top_down=True),
                                  "RLE8 with a negative height")
    rle4 = bytearray()
    for y in range(h):
        rle4 += bytes([9, int(r.integers(0, 256))])
        # 7 pixels in 4 bytes (a word boundary): Pillow reads 3 of them, skips the 4th to
        # realign, and so loses the 7th pixel.
        rle4 += bytes([0, 7]) + bytes(int(i) for i in r.integers(0, 256, 4))
        if y % 4 == 0:
            rle4 += bytes([60, 0x5A])  # clipped: x counted 7 for the 6 pixels of the odd run
        rle4 += bytes([0, 0])
    rle4 += bytes([0, 1])
    cases["bmp_rle4"] = (bmp(w, h, 4, bytes(rle4), compression=2, palette=bgrx(pal16)),
                         "RLE4: encoded, odd absolute runs, clipped runs, EOL")
    cases["bmp_rle8_truncated"] = (bmp(w, h, 8, bytes(rle8[: len(rle8) // 2]), compression=1, palette=bgrx(pal256)),
                                   "RLE8 cut in half: not enough data")
    return cases


# -------------------------------------------------------------------------- PBM/PGM/PPM
def netpbm_cases():
    r = rng(22)
    w, h = 37, 26
    cases = {}

    def plain(values, per_line=17):
        lines = [" ".join(str(int(v)) for v in values[i:i + per_line]) for i in range(0, len(values), per_line)]
        return ("\n".join(lines) + "\n").encode()

    rgb = r.integers(0, 256, w * h * 3, dtype=np.uint8)
    cases["ppm_p6"] = (b"P6\n%d %d\n255\n" % (w, h) + rgb.tobytes(), "binary RGB, maxval 255", "ppm")
    cases["ppm_p6_maxval_1000"] = (b"P6 %d %d 1000\n" % (w, h) + r.integers(0, 1001, w * h * 3).astype(">u2").tobytes(),
                                   "binary RGB, 16-bit samples, maxval 1000: scaled to 255, rounded half to even",
                                   "ppm")
    cases["ppm_p6_maxval_100"] = (b"P6\n# a comment\n%d %d\n100\n" % (w, h) +
                                  r.integers(0, 101, w * h * 3, dtype=np.uint8).tobytes(),
                                  "binary RGB, maxval 100 (scaled), a comment in the header", "ppm")
    gray = r.integers(0, 256, w * h, dtype=np.uint8)
    cases["pgm_p5"] = (b"P5\n%d %d\n255\n" % (w, h) + gray.tobytes(), "binary gray, maxval 255", "pgm")
    cases["pgm_p5_65535"] = (b"P5\n%d %d\n65535\n" % (w, h) + r.integers(0, 65536, w * h).astype(">u2").tobytes(),
                             "binary gray, 16-bit: mode I", "pgm")
    cases["pgm_p5_4095"] = (b"P5\n%d %d\n4095\n" % (w, h) + r.integers(0, 4096, w * h).astype(">u2").tobytes(),
                            "binary gray, maxval 4095: mode I, scaled to 65535", "pgm")
    cases["pgm_p5_15"] = (b"P5 %d %d 15 " % (w, h) + r.integers(0, 16, w * h, dtype=np.uint8).tobytes(),
                          "binary gray, maxval 15: scaled to 255", "pgm")
    bits = r.integers(0, 2, w * h, dtype=np.uint8)
    rows = b"".join(np.packbits(bits[y * w:(y + 1) * w]).tobytes() for y in range(h))
    cases["pbm_p4"] = (b"P4\n%d %d\n" % (w, h) + rows, "binary bilevel, 37 px rows padded to 5 bytes", "pbm")
    cases["pbm_p1"] = (b"P1\n# plain\n%d %d\n" % (w, h) +
                       b"\n".join(b"".join(b"%d" % v for v in bits[y * w:(y + 1) * w]) for y in range(h)) + b"\n",
                       "plain bilevel, digits without spaces", "pbm")
    cases["pgm_p2"] = (b"P2\n%d %d\n255\n" % (w, h) + plain(gray[: w * h // 2]) + b"# a comment in the data\n" +
                       plain(gray[w * h // 2:]), "plain gray, a comment among the samples", "pgm")
    cases["pgm_p2_maxval_1000"] = (b"P2 %d %d 1000\n" % (w, h) + plain(r.integers(0, 1001, w * h)),
                                   "plain gray, maxval 1000: mode I", "pgm")
    cases["ppm_p3_maxval_7"] = (b"P3\n%d %d\n7\n" % (w, h) + plain(r.integers(0, 8, w * h * 3)),
                                "plain RGB, maxval 7", "ppm")
    cases["ppm_p3_too_large"] = (b"P3\n2 2\n7\n1 2 3 4 5 6 7 8 9 1 2 3\n", "plain RGB, a sample over maxval", "ppm")
    cases["pgm_p5_maxval_0"] = (b"P5\n2 2\n0\n\0\0\0\0", "maxval 0", "pgm")
    cases["pgm_p5_truncated"] = (b"P5\n%d %d\n255\n" % (w, h) + gray.tobytes()[:500], "binary gray cut short", "pgm")
    cases["ppm_token_too_long"] = (b"P6\n000000000037 26\n255\n" + rgb.tobytes(), "an 11-character header token",
                                   "ppm")
    cmyk = r.integers(0, 256, w * h * 4, dtype=np.uint8)
    cases["ppm_p0cmyk"] = (b"P0CMYK %d %d 255\n" % (w, h) + cmyk.tobytes(), "Pillow's CMYK extension", "ppm")
    return cases


# ---------------------------------------------------------------------------------- TGA
def tga(width, height, image_type, depth, pixels, *, flags=0, ident=b"", colormap=None):
    """colormap: (start, count, map_depth, entry bytes)."""
    cm_type, start, count, map_depth, entries = 0, 0, 0, 0, b""
    if colormap:
        cm_type, (start, count, map_depth, entries) = 1, colormap
    header = struct.pack("<BBBHHBHHHHBB", len(ident), cm_type, image_type, start, count, map_depth, 0, 0, width,
                         height, depth, flags)
    return header + ident + entries + pixels


def tga_rle(pixels, pixel_bytes, r, row=None):
    """RLE packets of random lengths, runs and literals; with `row` (pixels per row) none
    crosses a row's end (Pillow refuses those), else they run on across rows."""
    out, i, n = bytearray(), 0, len(pixels) // pixel_bytes
    while i < n:
        length = int(min(n - i, r.integers(1, 129)))
        if row:
            length = min(length, row - i % row)
        if r.integers(0, 2):
            out += bytes([0x80 | (length - 1)]) + pixels[i * pixel_bytes:(i + 1) * pixel_bytes]
        else:
            out += bytes([length - 1]) + pixels[i * pixel_bytes:(i + length) * pixel_bytes]
        i += length
    return bytes(out)


def tga_cases():
    r = rng(23)
    w, h = 41, 27
    cases = {}

    def px(n):
        return r.integers(0, 256, n, dtype=np.uint8).tobytes()

    bgr = px(w * h * 3)
    cases["tga_rgb24"] = (tga(w, h, 2, 24, bgr), "24-bit BGR, bottom-up")
    cases["tga_rgba32_top_down"] = (tga(w, h, 2, 32, px(w * h * 4), flags=0x28), "32-bit BGRA, top-down")
    cases["tga_rgb16"] = (tga(w, h, 2, 16, px(w * h * 2)), "16-bit 5-5-5 (BGR;5), the top bit ignored")
    cases["tga_l8_mirrored"] = (tga(w, h, 3, 8, px(w * h), flags=0x10), "8-bit gray, right-to-left")
    cases["tga_la16_both_flipped"] = (tga(w, h, 3, 16, px(w * h * 2), flags=0x30), "gray + alpha, top-down, mirrored")
    cases["tga_1bit"] = (tga(w, h, 3, 1, px(((w + 7) // 8) * h)), "1-bit gray: rows of bits")
    cases["tga_p8_24bit_map_from_5"] = (tga(w, h, 1, 8, px(w * h), ident=b"made by make_cases.py",
                                            colormap=(5, 20, 24, px(60))),
                                        "palette of 24-bit entries starting at index 5, an ID field, "
                                        "indices past the palette")
    cases["tga_p8_16bit_map"] = (tga(w, h, 1, 8, px(w * h), colormap=(0, 256, 16, px(512))), "palette of 15-bit entries")
    cases["tga_p8_32bit_map"] = (tga(w, h, 1, 8, px(w * h), colormap=(0, 256, 32, px(1024))),
                                 "palette of 32-bit BGRA entries: Pillow 9.4 fails (raw mode)")
    cases["tga_rgb24_with_map"] = (tga(w, h, 2, 24, bgr, colormap=(0, 16, 24, px(48))),
                                   "true colour with a colour map: Pillow 9.4 fails (a palette on RGB)")
    cases["tga_rle_rgb24"] = (tga(w, h, 10, 24, tga_rle(bgr, 3, r, w)), "RLE 24-bit")
    cases["tga_rle_rgba32_top_down_mirrored"] = (tga(w, h, 10, 32, tga_rle(px(w * h * 4), 4, r, w), flags=0x38),
                                                 "RLE 32-bit, top-down, mirrored")
    cases["tga_rle_p8"] = (tga(w, h, 9, 8, tga_rle(px(w * h), 1, r, w), colormap=(0, 256, 24, px(768))),
                           "RLE palette")
    cases["tga_rle_l8"] = (tga(w, h, 11, 8, tga_rle(px(w * h), 1, r, w)), "RLE gray")
    cases["tga_rle_across_rows"] = (tga(w, h, 10, 24, tga_rle(bgr, 3, r)),
                                    "RLE packets across rows: Pillow refuses them (buffer overrun)")
    cases["tga_rle_truncated"] = (tga(w, h, 10, 24, tga_rle(bgr, 3, r, w)[:-50]), "RLE cut short")
    cases["tga_rgb_8bit"] = (tga(w, h, 2, 8, px(w * h)), "true colour with 8-bit pixels: no raw mode in Pillow")
    return {k: (data, note, "tga") for k, (data, note) in cases.items()}


# ------------------------------------------------------------------------------ ICO/CUR
def dib(width, height, bits, r, *, palette_colours=None, mask=True):
    """An icon bitmap: info header with the doubled height, palette, XOR rows, AND mask."""
    colours = 1 << bits if bits <= 8 else 0
    palette = b""
    if colours:
        entries = palette_colours or [tuple(int(c) for c in r.integers(0, 256, 3)) for _ in range(colours)]
        palette = bgrx(entries)
    if bits <= 8:
        xor = rows_of([int(i) for i in r.integers(0, colours, width * height)], width, height, bits)
    else:
        xor = stride_rows(r.integers(0, 256, width * height * bits // 8, dtype=np.uint8).tobytes(), width, bits, height)
    info = struct.pack("<IiiHHIIiiII", 40, width, 2 * height, 1, bits, 0, 0, 0, 0, 0, 0)
    and_mask = b""
    if mask:
        and_mask = stride_rows(np.packbits(r.integers(0, 2, (height, width)), axis=1).tobytes(), width, 1, height)
    return info + palette + xor + and_mask


def icon_file(kind, images, directory=None):
    """kind 1: ICO, 2: CUR. images: (width, height, bpp, data); `directory` overrides fields."""
    out = struct.pack("<HHH", 0, kind, len(images))
    offset = 6 + 16 * len(images)
    for i, (w, h, bpp, data) in enumerate(images):
        fields = dict(w=w % 256, h=h % 256, colours=0, bpp=bpp, size=len(data), offset=offset)
        fields.update((directory or {}).get(i, {}))
        out += struct.pack("<BBBBHHII", fields["w"], fields["h"], fields["colours"], 0, 1, fields["bpp"],
                           fields["size"], fields["offset"])
        offset += len(data)
    return out + b"".join(data for *_, data in images)


def icon_cases():
    r = rng(24)
    cases = {}
    png = io.BytesIO()
    Image.fromarray(r.integers(0, 256, (32, 32, 4), dtype=np.uint8), "RGBA").save(png, "PNG")
    cases["ico_png_largest"] = (icon_file(1, [(16, 16, 4, dib(16, 16, 4, r)), (32, 32, 32, png.getvalue()),
                                              (24, 24, 32, dib(24, 24, 32, r))]),
                                "three entries: the largest, a PNG, is opened", "ico")
    cases["ico_bmp32_alpha"] = (icon_file(1, [(40, 30, 32, dib(40, 30, 32, r))]),
                                "a 32-bit bitmap: alpha from the fourth bytes", "ico")
    cases["ico_bmp8_and_mask"] = (icon_file(1, [(37, 21, 8, dib(37, 21, 8, r))]),
                                  "an 8-bit bitmap, 37 px: the AND mask's rows padded to 32 bits", "ico")
    cases["ico_bmp24_and_mask"] = (icon_file(1, [(29, 35, 24, dib(29, 35, 24, r))]), "a 24-bit bitmap + AND mask",
                                   "ico")
    cases["ico_bmp1"] = (icon_file(1, [(33, 33, 1, dib(33, 33, 1, r, palette_colours=[(0, 0, 0), (255, 255, 255)]))]),
                         "a black and white bitmap (mode 1) + AND mask", "ico")
    cases["ico_same_size_deeper_wins"] = (icon_file(1, [(32, 32, 8, dib(32, 32, 8, r)), (32, 32, 4, dib(32, 32, 4, r))]),
                                          "two 32 px entries: the deeper one", "ico")
    cases["ico_same_size_same_depth_last_wins"] = (
        icon_file(1, [(32, 32, 8, dib(32, 32, 8, r)), (32, 32, 8, dib(32, 32, 8, r))]),
        "two equal entries: the last one (a reversed stable sort)", "ico")
    cases["ico_one_colour_counts_256"] = (
        icon_file(1, [(32, 32, 8, dib(32, 32, 8, r)), (32, 32, 4, dib(32, 32, 4, r))], {1: {"bpp": 0, "colours": 1}}),
        "bpp 0 and 1 colour: Pillow's depth is 256, so this entry wins", "ico")
    cases["ico_dir_says_32_dib_24"] = (icon_file(1, [(20, 20, 24, dib(20, 20, 24, r))], {0: {"bpp": 32}}),
                                       "the directory says 32 bits, the bitmap has 24: alpha from every 4th byte", "ico")
    cases["ico_mask_outside"] = (icon_file(1, [(20, 20, 8, dib(20, 20, 8, r))], {0: {"size": 40}}),
                                 "an entry size too small for its AND mask", "ico")
    cases["ico_truncated_directory"] = (icon_file(1, [(20, 20, 8, dib(20, 20, 8, r))])[:15], "the directory cut", "ico")
    cases["cur_largest"] = (icon_file(2, [(16, 16, 8, dib(16, 16, 8, r)), (32, 32, 8, dib(32, 32, 8, r)),
                                          (48, 24, 8, dib(48, 24, 8, r))]),
                            "three cursors: the first wider and taller than the one before", "cur")
    cases["cur_32bit_at_22"] = (icon_file(2, [(24, 24, 32, dib(24, 24, 32, r))]),
                                "one 32-bit cursor, its bitmap at byte 22: BGRA, RGBA mode", "cur")
    cases["cur_32bit_elsewhere"] = (icon_file(2, [(16, 16, 32, dib(16, 16, 32, r)), (24, 24, 32, dib(24, 24, 32, r))]),
                                    "a 32-bit cursor not at byte 22: BGRX, RGB mode", "cur")
    return cases


# --------------------------------------------------------------------------------- TIFF
def tiff(width, height, tags, blocks, *, le=True, big=False, tile=None):
    """An uncompressed TIFF (or BigTIFF) of one IFD: `tags` maps tag -> (type, values);
    `blocks` are the strips (or, with tile=(tw, th), the tiles) as stored."""
    e = "<" if le else ">"
    sizes = {1: "B", 2: "B", 3: "H", 4: "I", 5: "II", 11: "f", 16: "Q"}
    tags = dict(tags)
    tags[256] = (4, [width])
    tags[257] = (4, [height])
    offsets_tag, counts_tag = (324, 325) if tile else (273, 279)
    if tile:
        tags[322] = (3, [tile[0]])
        tags[323] = (3, [tile[1]])
    tags[counts_tag] = (4, [len(b) for b in blocks])
    tags[offsets_tag] = (16 if big else 4, [0] * len(blocks))  # filled in below
    head = 16 if big else 8
    entry, count_size, inline = (20, 8, 8) if big else (12, 2, 4)
    ifd_size = count_size + entry * len(tags) + inline
    packed = {}
    for tag, (typ, values) in tags.items():
        fmt = "".join(sizes[typ] for _ in values)
        packed[tag] = (typ, len(values) // (2 if typ == 5 else 1), fmt)
    extra_at = head + ifd_size
    extra = {t: struct.calcsize(e + f) for t, (_, _, f) in packed.items() if struct.calcsize(e + f) > inline}
    data_at = extra_at + sum(extra.values())
    offsets, at = [], data_at
    for b in blocks:
        offsets.append(at)
        at += len(b)
    tags[offsets_tag] = (tags[offsets_tag][0], offsets)
    out = (b"II" if le else b"MM") + (struct.pack(e + "HHHQ", 43, 8, 0, head) if big else struct.pack(e + "HI", 42, head))
    ifd, tail, pos = struct.pack(e + ("Q" if big else "H"), len(tags)), b"", extra_at
    for tag in sorted(tags):
        typ, values = tags[tag]
        value = struct.pack(e + packed[tag][2], *values)
        if len(value) > inline:
            ref, tail, pos = struct.pack(e + ("Q" if big else "I"), pos), tail + value, pos + len(value)
        else:
            ref = value.ljust(inline, b"\0")
        ifd += struct.pack(e + ("HHQ" if big else "HHI"), tag, typ, packed[tag][1]) + ref
    ifd += b"\0" * inline
    return out + ifd + tail + b"".join(blocks)


def tiff_cases():
    r = rng(25)
    w, h = 37, 23
    cases = {}
    rgb = r.integers(0, 256, (h, w, 3), dtype=np.uint8)
    rgb_tags = {258: (3, [8, 8, 8]), 259: (3, [1]), 262: (3, [2]), 277: (3, [3])}
    for o in range(2, 9):
        cases[f"tiff_orientation_{o}"] = (tiff(w, h, {**rgb_tags, 274: (3, [o])}, [rgb.tobytes()]),
                                          f"8-bit RGB, Orientation {o}: Pillow turns it upright on load")
    bilevel = io.BytesIO()
    Image.fromarray(r.integers(0, 2, (h, w), dtype=np.uint8) * 255).convert("1").save(
        bilevel, "TIFF", compression="group4", tiffinfo={274: 6})
    cases["tiff_g4_orientation_6"] = (bilevel.getvalue(), "bilevel Group 4 (libtiff), Orientation 6")

    def u16(*shape, lo=0, hi=65536):
        return r.integers(lo, hi, shape).astype(np.uint16)

    rgb16 = u16(h, w, 3)
    rgb16_tags = {258: (3, [16, 16, 16]), 259: (3, [1]), 262: (3, [2]), 277: (3, [3])}
    cases["tiff_rgb16_le"] = (tiff(w, h, rgb16_tags, [rgb16.astype("<u2").tobytes()]), "16-bit RGB: the high bytes")
    cases["tiff_rgb16_be"] = (tiff(w, h, rgb16_tags, [rgb16.astype(">u2").tobytes()], le=False),
                              "16-bit RGB, big-endian")
    tw, th = 16, 16
    tiles = []
    for ty in range(0, h, th):
        for tx in range(0, w, tw):
            block = np.zeros((th, tw, 3), np.uint16)
            part = rgb16[ty:ty + th, tx:tx + tw]
            block[: part.shape[0], : part.shape[1]] = part
            tiles.append(block.astype("<u2").tobytes())
    cases["tiff_rgb16_tiled"] = (tiff(w, h, rgb16_tags, tiles, tile=(tw, th)), "16-bit RGB in 16x16 tiles")
    rgba16 = u16(h, w, 4)
    alpha = rgba16[..., 3:4].astype(np.uint32)
    premultiplied = np.concatenate([(rgba16[..., :3] * alpha // 65535).astype(np.uint16), rgba16[..., 3:]], axis=2)
    rgba16_tags = {258: (3, [16] * 4), 259: (3, [1]), 262: (3, [2]), 277: (3, [4])}
    cases["tiff_rgba16_associated"] = (tiff(w, h, {**rgba16_tags, 338: (3, [1])}, [premultiplied.astype("<u2").tobytes()]),
                                       "16-bit RGBA, associated alpha: un-premultiplied")
    cases["tiff_rgba16_unassociated"] = (tiff(w, h, {**rgba16_tags, 338: (3, [2])}, [rgba16.astype("<u2").tobytes()]),
                                         "16-bit RGBA, unassociated alpha")
    gray_tags = {259: (3, [1]), 262: (3, [1]), 277: (3, [1])}
    cases["tiff_gray16_signed"] = (tiff(w, h, {**gray_tags, 258: (3, [16]), 339: (3, [2])},
                                        [r.integers(-300, 600, (h, w)).astype("<i2").tobytes()]),
                                   "signed 16-bit gray: mode I")
    cases["tiff_gray16_signed_be"] = (tiff(w, h, {**gray_tags, 258: (3, [16]), 339: (3, [2])},
                                           [r.integers(-300, 600, (h, w)).astype(">i2").tobytes()], le=False),
                                      "signed 16-bit gray, big-endian")
    cases["tiff_gray32_signed"] = (tiff(w, h, {**gray_tags, 258: (3, [32]), 339: (3, [2])},
                                        [r.integers(-300, 600, (h, w)).astype("<i4").tobytes()]),
                                   "signed 32-bit gray: mode I")
    cases["tiff_gray32_unsigned"] = (tiff(w, h, {**gray_tags, 258: (3, [32])},
                                          [r.integers(0, 600, (h, w)).astype("<u4").tobytes()]),
                                     "unsigned 32-bit gray: mode I")
    extremes = np.where(rng(26).integers(0, 2, (h, w)) == 1, 2 ** 31 - 1, -2 ** 31).astype("<i4")  # own seed
    cases["tiff_gray32_overshoot"] = (tiff(w, h, {**gray_tags, 258: (3, [32]), 339: (3, [2])}, [extremes.tobytes()]),
                                      "signed 32-bit gray at +-2^31: bicubic overshoots past int (Pillow: INT_MIN)")
    cmyk16 = u16(h, w, 4)
    cases["tiff_cmyk16"] = (tiff(w, h, {258: (3, [16] * 4), 259: (3, [1]), 262: (3, [5]), 277: (3, [4])},
                                 [cmyk16.astype("<u2").tobytes()]), "16-bit CMYK: the high bytes")
    tiles_deflate = [zlib.compress(t) for t in tiles]
    cases["tiff_rgb16_tiled_deflate"] = (tiff(w, h, {**rgb16_tags, 259: (3, [8])}, tiles_deflate, tile=(tw, th)),
                                         "16-bit RGB, deflate-compressed tiles (decoded by libtiff)")
    cases["tiff_gray16_miniswhite_be"] = (tiff(w, h, {**gray_tags, 262: (3, [0]), 258: (3, [16])},
                                               [u16(h, w).astype(">u2").tobytes()], le=False),
                                          "16-bit WhiteIsZero, big-endian: not in Pillow's table")
    cases["tiff_rgb16_signed"] = (tiff(w, h, {**rgb16_tags, 339: (3, [2, 2, 2])}, [rgb16.astype("<u2").tobytes()]),
                                  "signed 16-bit RGB: not in Pillow's table")
    nibbles = r.integers(0, 16, (h, w + 1), dtype=np.uint8)
    packed4 = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).tobytes()
    colormap = [int(v) for v in r.integers(0, 65536, 48)]
    cases["tiff_p4"] = (tiff(w, h, {258: (3, [4]), 259: (3, [1]), 262: (3, [3]), 277: (3, [1]), 320: (3, colormap)},
                             [packed4]), "4-bit palette (P;4), 16-entry colour map")
    cases["tiff_l4_miniswhite"] = (tiff(w, h, {**gray_tags, 262: (3, [0]), 258: (3, [4])}, [packed4]),
                                   "4-bit WhiteIsZero gray (L;4I)")
    rgba8 = r.integers(0, 256, (h, w, 4), dtype=np.uint8)
    rgba8_tags = {258: (3, [8] * 4), 259: (3, [1]), 262: (3, [2]), 277: (3, [4])}
    cases["tiff_rgbx8"] = (tiff(w, h, {**rgba8_tags, 338: (3, [0])}, [rgba8.tobytes()]),
                           "8-bit RGB + an unspecified extra sample (RGBX)")
    cases["tiff_rgba8_associated"] = (tiff(w, h, {**rgba8_tags, 338: (3, [1])}, [rgba8.tobytes()]),
                                      "8-bit premultiplied RGBA (RGBa), values over alpha clipped")
    cases["tiff_rgba8_no_extrasamples"] = (tiff(w, h, rgba8_tags, [rgba8.tobytes()]),
                                           "4 samples, no ExtraSamples tag: RGBA")
    cases["tiff_la8"] = (tiff(w, h, {**gray_tags, 258: (3, [8, 8]), 277: (3, [2]), 338: (3, [2])},
                              [rgba8[..., :2].tobytes()]), "8-bit gray + alpha")
    cases["tiff_float32"] = (tiff(w, h, {**gray_tags, 258: (3, [32]), 339: (3, [3])},
                                  [r.uniform(-50, 300, (h, w)).astype("<f4").tobytes()]),
                             "32-bit float gray: mode F (resized in floats, then clipped and truncated via L)")
    cases["tiff_float32_be_whiteiszero"] = (tiff(w, h, {**gray_tags, 262: (3, [0]), 258: (3, [32]), 339: (3, [3])},
                                                 [r.uniform(200, 300, (h, w)).astype(">f4").tobytes()], le=False),
                                            "big-endian float, WhiteIsZero (ignored), values about 255: mode F")
    cases["tiff_pa8"] = (tiff(w, h, {258: (3, [8, 8]), 259: (3, [1]), 262: (3, [3]), 277: (3, [2]), 338: (3, [2]),
                                     320: (3, [int(v) for v in r.integers(0, 65536, 768)])}, [rgba8[..., :2].tobytes()]),
                         "palette + alpha: mode PA; Pillow resizes the indices and loses the palette (gray)")
    lab = np.stack([r.integers(0, 256, (h, w)), r.integers(-128, 128, (h, w)), r.integers(-128, 128, (h, w))], axis=2)
    pa_tags = {258: (3, [8, 8]), 259: (3, [1]), 262: (3, [3]), 277: (3, [2]), 338: (3, [2]),
               320: (3, [int(v) for v in r.integers(0, 65536, 768)])}
    cases["tiff_pa8_not_resized"] = (tiff(32, 45, pa_tags, [r.integers(0, 256, 32 * 45 * 2, dtype=np.uint8).tobytes()]),
                                     "palette + alpha, 32 px wide: only cropped, so the palette's colours")
    cases["tiff_cielab"] = (tiff(w, h, {258: (3, [8, 8, 8]), 259: (3, [1]), 262: (3, [8]), 277: (3, [3])},
                                 [(lab % 256).astype(np.uint8).tobytes()]),
                            "CIELab (a and b signed): mode LAB, to RGB through LittleCMS as Pillow does")
    # JPEG-compressed tiles, made by libtiff's own tiffcp (Debian's libtiff-tools).
    smooth = np.clip(np.add.outer(np.arange(37) * 5, np.arange(53) * 3)[..., None] + r.integers(-20, 20, (37, 53, 4)),
                     0, 255).astype(np.uint8)
    for name, mode, note in (("cmyk", "CMYK", "CMYK in JPEG-compressed 16x16 tiles: resized in CMYK, then converted"),
                             ("rgb", "RGB", "RGB in JPEG-compressed 16x16 tiles (YCbCr inside)")):
        with tempfile.TemporaryDirectory() as tmp:
            plain, tiled = os.path.join(tmp, "plain.tif"), os.path.join(tmp, "tiled.tif")
            Image.fromarray(smooth if mode == "CMYK" else smooth[..., :3], mode).save(plain)
            subprocess.run(["tiffcp", "-c", "jpeg:90", "-t", "-w", "16", "-l", "16", plain, tiled], check=True)
            cases[f"tiff_{name}_jpeg_tiled"] = (open(tiled, "rb").read(), note)
    # Separate planes (PlanarConfiguration 2). Uncompressed ones Pillow reads with its own raw
    # decoder, one letter of the raw mode a plane (8-bit: 16-bit planes come out as their bytes);
    # compressed ones through libtiff, a plane a band (16-bit: the high byte).
    def planes(arr, dtype, rows=None, tile=None, deflate=False):
        """Strips of `rows` rows (or tiles), plane after plane, of arr[plane, y, x]."""
        blocks = []
        for plane in arr:
            if tile:
                for ty in range(0, plane.shape[0], tile[1]):
                    for tx in range(0, plane.shape[1], tile[0]):
                        block = np.zeros((tile[1], tile[0]), plane.dtype)
                        part = plane[ty:ty + tile[1], tx:tx + tile[0]]
                        block[: part.shape[0], : part.shape[1]] = part
                        blocks.append(block.astype(dtype).tobytes())
            else:
                step = rows or plane.shape[0]
                blocks += [plane[y:y + step].astype(dtype).tobytes() for y in range(0, plane.shape[0], step)]
        return [zlib.compress(b) for b in blocks] if deflate else blocks

    def planar_tags(photometric, bits, spp, compression=1, extra=None, rows=None):
        tags = {258: (3, [bits] * spp), 259: (3, [compression]), 262: (3, [photometric]), 277: (3, [spp]),
                284: (3, [2])}
        if extra is not None:
            tags[338] = (3, [extra])
        if rows:
            tags[278] = (3, [rows])
        return tags

    rgb16_planes, rgba16_planes = np.moveaxis(rgb16, 2, 0), np.moveaxis(premultiplied, 2, 0)
    cases["tiff_rgb16_planar"] = (tiff(w, h, planar_tags(2, 16, 3, rows=5), planes(rgb16_planes, "<u2", rows=5)),
                                  "16-bit RGB, separate planes, uncompressed: each plane's bytes as 8-bit samples")
    cases["tiff_rgb16_planar_be"] = (tiff(w, h, planar_tags(2, 16, 3), planes(rgb16_planes, ">u2"), le=False),
                                     "16-bit RGB, separate planes, uncompressed, big-endian")
    cases["tiff_rgb16_planar_deflate"] = (tiff(w, h, planar_tags(2, 16, 3, 8, rows=5),
                                               planes(rgb16_planes, "<u2", rows=5, deflate=True)),
                                          "16-bit RGB, separate deflate planes (libtiff): the high bytes")
    cases["tiff_rgb16_planar_tiled"] = (tiff(w, h, planar_tags(2, 16, 3), planes(rgb16_planes, "<u2", tile=(tw, th)),
                                             tile=(tw, th)),
                                        "16-bit RGB, separate planes in 16x16 tiles, uncompressed (Pillow's stride rule)")
    cases["tiff_rgb16_planar_tiled_deflate"] = (tiff(w, h, planar_tags(2, 16, 3, 8),
                                                     planes(rgb16_planes, "<u2", tile=(tw, th), deflate=True),
                                                     tile=(tw, th)),
                                                "16-bit RGB, separate deflate planes in 16x16 tiles")
    cases["tiff_rgba16_planar_associated_deflate"] = (
        tiff(w, h, planar_tags(2, 16, 4, 8, extra=1), planes(rgba16_planes, "<u2", deflate=True)),
        "16-bit premultiplied RGBA, separate deflate planes: un-premultiplied")
    cases["tiff_rgba8_planar_associated"] = (
        tiff(w, h, planar_tags(2, 8, 4, extra=1), planes(np.moveaxis(rgba8, 2, 0), "u1")),
        "8-bit premultiplied RGBA, separate planes, uncompressed: Pillow has no raw mode for a plane")
    cases["tiff_la8_planar_deflate"] = (tiff(w, h, planar_tags(1, 8, 2, 8, extra=2),
                                             planes(np.moveaxis(rgba8[..., :2], 2, 0), "u1", deflate=True)),
                                        "gray + alpha, separate deflate planes: the alpha plane lost (0)")
    cases["tiff_cmyk8_planar"] = (tiff(w, h, planar_tags(5, 8, 4), planes(np.moveaxis(rgba8, 2, 0), "u1")),
                                  "8-bit CMYK, separate planes")
    lab_planes = np.moveaxis((lab % 256).astype(np.uint8), 2, 0)
    cases["tiff_cielab_planar"] = (tiff(w, h, planar_tags(8, 8, 3), planes(lab_planes, "u1")),
                                   "CIELab, separate planes: a and b unpacked as stored (no offset)")
    cases["tiff_cielab_planar_deflate"] = (tiff(w, h, planar_tags(8, 8, 3, 8), planes(lab_planes, "u1", deflate=True)),
                                           "CIELab, separate deflate planes")
    cases["tiff_ycbcr_planar"] = (tiff(w, h, planar_tags(6, 8, 3), planes(np.moveaxis(rgb, 2, 0), "u1")),
                                  "YCbCr, separate planes, uncompressed: the samples as R, G, B, unconverted")
    cases["tiff_ycbcr_planar_deflate"] = (tiff(w, h, planar_tags(6, 8, 3, 8),
                                               planes(np.moveaxis(rgb, 2, 0), "u1", deflate=True)),
                                          "YCbCr, separate deflate planes: Pillow's libtiff decoder fails")
    ycbcr = rgb.tobytes()
    cases["tiff_ycbcr_uncompressed"] = (
        tiff(w, h, {**rgb_tags, 262: (3, [6]), 278: (3, [5])},
             [ycbcr[y * w * 3:(y + 5) * w * 3] for y in range(0, h - 5, 5)] + [ycbcr[20 * w * 3:] + bytes(w * h)]),
        "YCbCr, uncompressed, 2x2 subsampling tag: Pillow reads 4 bytes a pixel as RGBX, rows past the strips")
    cases["tiff_gray_planar_miniswhite"] = (tiff(w, h, {**gray_tags, 262: (3, [0]), 258: (3, [8]), 284: (3, [2])},
                                                 [rgba8[..., 0].tobytes()]),
                                            "8-bit WhiteIsZero, PlanarConfiguration 2, uncompressed: not inverted")
    cases["bigtiff_rgb8"] = (tiff(w, h, rgb_tags, [rgb.tobytes()], big=True), "BigTIFF, 8-bit RGB")
    cases["bigtiff_rgb8_be"] = (tiff(w, h, rgb_tags, [rgb.tobytes()], big=True, le=False), "BigTIFF, big-endian")
    cases.update(tiff_one_plane_cases(w, h))
    return {k: (data, note, "tif") for k, (data, note) in cases.items()}


def tiff_one_plane_cases(w, h):
    """One-band uncompressed TIFFs tagged PlanarConfiguration 2: Pillow's raw decoder unpacks
    the plane by the first letter of the raw mode ("1;I" -> "1", "L;4" -> "L", "I;16S" -> "I",
    "F;32F" -> "F"), so 2- and 4-bit planes are read a byte a sample and 16-bit signed ones
    four bytes a sample, past the strip (padded here so that the file holds what is read)."""
    r = rng(43)
    cases = {}

    def tags(photometric, bits, fmt=1, more=None):
        return {258: (3, [bits]), 259: (3, [1]), 262: (3, [photometric]), 277: (3, [1]), 284: (3, [2]),
                339: (3, [fmt]), **(more or {})}

    def packed(bits, rows, pad_to=0):  # random samples packed most significant first, rows padded to bytes
        values = r.integers(0, 1 << bits, (rows, w))
        data = b"".join(int("".join(format(v, f"0{bits}b") for v in row).ljust(-(-w * bits // 8) * 8, "0"), 2)
                        .to_bytes(-(-w * bits // 8), "big") for row in values)
        return data + r.integers(0, 256, max(0, pad_to - len(data)), dtype=np.uint8).tobytes()

    cases["tiff_bilevel_planar"] = (tiff(w, h, tags(1, 1), [packed(1, h)]), "bilevel, one plane: \"1\"")
    cases["tiff_bilevel_planar_miniswhite"] = (tiff(w, h, tags(0, 1), [packed(1, h)]),
                                               "bilevel WhiteIsZero, one plane: \"1\", not inverted")
    tiles = [r.integers(0, 256, 16 * 2, dtype=np.uint8).tobytes() for _ in range(6)]  # 16x16 bits: 2 bytes a row
    cases["tiff_bilevel_planar_tiled"] = (tiff(w, h, tags(1, 1), tiles, tile=(16, 16)),
                                          "bilevel in 16x16 tiles, one plane (Pillow's stride rule)")
    cases["tiff_gray4_planar"] = (tiff(w, h, tags(1, 4), [packed(4, h, pad_to=w * h)]),
                                  "4-bit gray, one plane: a byte a sample, rows past the strip")
    cases["tiff_gray2_planar_miniswhite"] = (tiff(w, h, tags(0, 2), [packed(2, h, pad_to=w * h)]),
                                             "2-bit WhiteIsZero, one plane: a byte a sample, not inverted")
    cases["tiff_gray2_planar_short"] = (tiff(w, h, tags(1, 2), [packed(2, h)]),
                                        "2-bit gray, one plane, the file ending after the strip: truncated")
    colormap = r.integers(0, 65536, 3 * 16).tolist()
    cases["tiff_palette4_planar"] = (tiff(w, h, tags(3, 4, more={320: (3, colormap)}), [packed(4, h, pad_to=w * h)]),
                                     "4-bit palette, one plane: bytes as indices, past the 16 colours")
    samples = r.integers(-32768, 32768, (h, w)).astype("<i2").tobytes()
    cases["tiff_gray16s_planar"] = (tiff(w, h, tags(1, 16, 2), [samples + r.integers(0, 256, w * h * 2,
                                                                                  dtype=np.uint8).tobytes()]),
                                    "signed 16-bit gray, one plane: \"I\", four bytes a sample")
    cases["tiff_gray16_planar"] = (tiff(w, h, tags(1, 16), [r.integers(0, 256, w * h * 4, dtype=np.uint8).tobytes()]),
                                   "16-bit gray, one plane: no \"I\" unpacker for I;16")
    floats = (r.random((h, w)) * 300 - 20).astype(np.float32)
    cases["tiff_float32_planar"] = (tiff(w, h, tags(1, 32, 3), [floats.astype("<f4").tobytes()]),
                                    "32-bit float, one plane: \"F\"")
    ints = r.integers(-200, 400, (h, w)).astype(np.int32)
    cases["tiff_int32_planar_be"] = (tiff(w, h, tags(1, 32, 2), [ints.astype(">i4").tobytes()], le=False),
                                     "signed 32-bit, big-endian, one plane: \"I\" reads native order")
    cases["tiff_gray12"] = (tiff(w, h, tags(1, 12, more={284: (3, [1])}), [packed(12, h)]),
                            "12-bit gray: the reference opens it (I;16) but cannot resize it")
    return cases


# ---------------------------------------------------------------------------------- GIF
def lzw_literals(indices):
    """GIF LZW data (minimum code size 8) of literal codes only: a clear code before the
    table would widen the codes, so every code stays 9 bits wide."""
    clear, end = 256, 257
    codes, run = [clear], 0
    for v in indices:
        if run == 250:
            codes.append(clear)
            run = 0
        codes.append(int(v))
        run += 1
    codes.append(end)
    bits = "".join(format(c, "09b")[::-1] for c in codes)
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))
    return b"\x08" + b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)) + b"\0"


def gif(screen, frame, indices, *, global_palette=None, local_palette=None, transparent=None, interlace=False):
    """A one-frame GIF89a: screen (w, h), frame (left, top, w, h), palettes of 256 entries."""
    out = b"GIF89a" + struct.pack("<HH", *screen)
    out += bytes([0xF7 if global_palette is not None else 0, 0, 0]) + (global_palette or b"")
    if transparent is not None:
        out += b"!\xf9\x04" + bytes([1, 0, 0, transparent, 0])
    flags = (0x87 if local_palette is not None else 0) | (0x40 if interlace else 0)
    out += b"," + struct.pack("<HHHH", *frame) + bytes([flags]) + (local_palette or b"")
    return out + lzw_literals(indices) + b";"


def gif_cases():
    r = rng(27)
    cases = {}
    palette = r.integers(0, 256, 768, dtype=np.uint8).tobytes()
    ramp = bytes(i // 3 for i in range(768))

    def px(w, h):
        return r.integers(0, 256, w * h)

    cases["gif_frame_beyond_screen"] = (gif((30, 20), (10, 5, 30, 20), px(30, 20), global_palette=palette),
                                        "the first frame reaches past the screen: Pillow enlarges the image")
    cases["gif_zero_screen"] = (gif((0, 0), (0, 0, 25, 17), px(25, 17), global_palette=palette),
                                "a 0x0 logical screen: the frame's size")
    cases["gif_frame_beyond_screen_transparent"] = (
        gif((20, 30), (7, 9, 20, 30), px(20, 30), global_palette=palette, transparent=3, interlace=True),
        "past the screen, interlaced, the rest filled with the transparent index")
    cases["gif_no_colour_table"] = (gif((33, 21), (0, 0, 33, 21), px(33, 21)),
                                    "no colour table at all: Pillow reads the indices as gray (mode L)")
    cases["gif_local_gray_ramp"] = (gif((33, 21), (2, 1, 30, 19), px(30, 19), global_palette=palette, local_palette=ramp),
                                    "a local colour table that is the gray ramp: mode L")
    cases["gif_local_over_global"] = (
        gif((33, 21), (0, 0, 33, 21), px(33, 21), global_palette=ramp, local_palette=palette),
        "a gray global table and a colour local one: mode P, the local colours")
    cases["gif_empty_frame"] = (gif((21, 13), (3, 3, 0, 5), [], global_palette=palette), "a frame 0 pixels wide")
    whole = gif((33, 21), (0, 0, 33, 21), px(33, 21), global_palette=palette)
    cases["gif_truncated"] = (whole[: len(whole) // 2], "cut in the middle of its pixels")
    return {k: (data, note, "gif") for k, (data, note) in cases.items()}


# ---------------------------------------------------------------------------------- PSD
def packbits(row):
    """PackBits: runs of 3 or more equal bytes as runs, the rest as literals (at most 128)."""
    out, i = bytearray(), 0
    while i < len(row):
        run = 1
        while i + run < len(row) and run < 128 and row[i + run] == row[i]:
            run += 1
        if run >= 3:
            out += bytes([(257 - run) & 0xFF, row[i]])
            i += run
            continue
        j = i
        while j < len(row) and j - i < 128 and not (j + 2 < len(row) and row[j] == row[j + 1] == row[j + 2]):
            j += 1
        out += bytes([j - i - 1]) + bytes(row[i:j])
        i = j
    return bytes(out)


def psd(width, height, colour_mode, planes, *, bits=8, channels=None, rle=False, colour_data=b"", layers=b"",
        rows=None):
    """A PSD file: `planes` are the merged image's channels, each `rows` rows of bytes."""
    channels = len(planes) if channels is None else channels
    out = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, bits, colour_mode)
    out += struct.pack(">I", len(colour_data)) + colour_data + struct.pack(">I", 0)
    out += struct.pack(">I", len(layers)) + layers
    rows = rows or height
    if not rle:
        return out + struct.pack(">H", 0) + b"".join(planes)
    stride = len(planes[0]) // rows
    packed = [[packbits(p[y * stride:(y + 1) * stride]) for y in range(rows)] for p in planes]
    counts = b"".join(struct.pack(">H", len(r)) for p in packed for r in p)
    return out + struct.pack(">H", 1) + counts + b"".join(r for p in packed for r in p)


def psd_layers(width, height, channel_ids, r):
    """A layer block of one layer covering the image, its channels raw."""
    record = struct.pack(">iiiiH", 0, 0, height, width, len(channel_ids))
    record += b"".join(struct.pack(">hI", c, 2 + width * height) for c in channel_ids)
    name = b"\x05layer\0\0"  # Pascal string padded to 4 bytes
    record += b"8BIMnorm" + bytes([255, 0, 0, 0]) + struct.pack(">III", 8 + len(name), 0, 0) + name
    data = b"".join(struct.pack(">H", 0) + r.integers(0, 256, width * height, dtype=np.uint8).tobytes()
                    for _ in channel_ids)
    info = struct.pack(">h", 1) + record + data
    info += b"\0" * (len(info) & 1)
    return struct.pack(">I", len(info)) + info + struct.pack(">I", 0)


def psd_cases():
    r = rng(28)
    w, h = 35, 22
    cases = {}

    def plane(lo=0, hi=256):
        return r.integers(lo, hi, w * h, dtype=np.uint8).tobytes()

    def smooth():  # long runs, so that PackBits makes runs, some across rows
        return np.repeat(r.integers(0, 256, w * h // 7 + 1, dtype=np.uint8), 7)[: w * h].tobytes()

    cases["psd_rgb_raw"] = (psd(w, h, 3, [plane(), plane(), plane()]), "RGB, raw")
    cases["psd_rgba_rle"] = (psd(w, h, 3, [smooth(), plane(), smooth(), plane()], rle=True), "RGB + alpha: RGBA, PackBits")
    cases["psd_rgb_five_channels"] = (psd(w, h, 3, [plane() for _ in range(5)]), "RGB and two extra channels: RGB")
    cases["psd_gray_rle"] = (psd(w, h, 1, [smooth()], rle=True), "grayscale, PackBits")
    cases["psd_gray_alpha"] = (psd(w, h, 1, [plane(), plane()]), "grayscale + alpha: L, the alpha unread")
    cases["psd_cmyk_raw"] = (psd(w, h, 4, [plane() for _ in range(4)]), "CMYK, raw: channels inverted")
    cases["psd_duotone"] = (psd(w, h, 8, [plane()]), "duotone: its first channel as L")
    cases["psd_palette"] = (psd(w, h, 2, [plane()], colour_data=r.integers(0, 256, 768, dtype=np.uint8).tobytes()),
                            "indexed: the 768-byte colour table, R then G then B")
    cases["psd_palette_short_table"] = (psd(w, h, 2, [plane()], colour_data=bytes(12)),
                                        "indexed with a 12-byte colour table: no palette, Pillow's gray ramp")
    bitmap = r.integers(0, 256, ((w + 7) // 8) * h, dtype=np.uint8).tobytes()
    cases["psd_bitmap"] = (psd(w, h, 0, [bitmap], bits=1), "bitmap, 1 bit: set bits read as white")
    cases["psd_bitmap_rle"] = (psd(w, h, 0, [bitmap], bits=1, rle=True), "bitmap, PackBits")
    cases["psd_with_layer"] = (psd(w, h, 3, [plane(), plane(), plane()], layers=psd_layers(w, h, [0, 1, 2], r)),
                               "an RGB layer record: the merged image is what opens")
    cases["psd_layer_rgba"] = (psd(w, h, 3, [smooth(), smooth(), smooth()], rle=True,
                                   layers=psd_layers(w, h, [-1, 0, 1, 2], r)), "a layer with transparency (-1)")
    cases["psd_layer_user_mask"] = (psd(w, h, 3, [plane(), plane(), plane()], layers=psd_layers(w, h, [0, 1, 2, -2], r)),
                                    "a layer with a user mask channel (-2): Pillow 9.4 fails")
    cases["psd_layer_gray"] = (psd(w, h, 1, [plane()], layers=psd_layers(w, h, [-1, 0], r)),
                               "a gray layer with alpha: Pillow 9.4 fails on its channels")
    cases["psd_lab"] = (psd(w, h, 9, [plane(), plane(), plane()]), "Lab: mode LAB, to RGB through LittleCMS as Pillow does")
    cases["psd_16bit"] = (psd(w, h, 3, [plane() + plane() for _ in range(3)], bits=16), "16 bits a channel")
    whole = psd(w, h, 3, [smooth(), smooth(), smooth()], rle=True)
    cases["psd_rle_truncated"] = (whole[: len(whole) - 40], "PackBits data cut short")
    cases["psd_raw_truncated"] = (cases["psd_rgb_raw"][0][:-1], "raw data one byte short")
    runs = bytes([256 - 49, 9] * 2)  # runs of 50: each cut at the 35-pixel row's end
    cases["psd_rle_runs_past_rows"] = (b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, 2, w, 8, 1) + bytes(12) +
                                       struct.pack(">HHH", 1, 2, 2) + runs, "runs longer than a row: cut, as Pillow does")
    return {k: (data, note, "psd") for k, (data, note) in cases.items()}


# ---------------------------------------------------------------------------------- DDS
def dds(width, height, body, *, fourcc=b"\0\0\0\0", pf_flags=0x4, bits=0, masks=(0, 0, 0, 0), dxgi=None):
    """A DDS file: the 124-byte header, a DX10 header when `dxgi` is given, then `body`."""
    pixel_format = struct.pack("<II4sI4I", 32, pf_flags, fourcc, bits, *masks)
    header = struct.pack("<IIIIIII", 124, 0x1007, height, width, 0, 0, 0) + bytes(44) + pixel_format + bytes(20)
    dx10 = struct.pack("<IIIII", dxgi, 3, 0, 1, 0) if dxgi is not None else b""
    return b"DDS " + header + dx10 + body


def dds_cases():
    r = rng(29)
    cases = {}

    def blocks(w, h, size):  # any bytes are valid blocks: random ones reach every branch
        return r.integers(0, 256, ((w + 3) // 4) * ((h + 3) // 4) * size, dtype=np.uint8).tobytes()

    for name, fourcc, size in (("dxt1", b"DXT1", 8), ("dxt3", b"DXT3", 16), ("dxt5", b"DXT5", 16),
                               ("bc4", b"ATI1", 8), ("bc5", b"ATI2", 16), ("bc5s", b"BC5S", 16)):
        cases[f"dds_{name}"] = (dds(38, 25, blocks(38, 25, size), fourcc=fourcc),
                                f"{fourcc.decode()} blocks, 38x25: partial blocks at the edges")
    cases["dds_dxt1_multiple_of_4"] = (dds(32, 20, blocks(32, 20, 8), fourcc=b"DXT1"), "DXT1, 32x20: whole blocks")
    cases["dds_dx10_bc5_snorm"] = (dds(22, 31, blocks(22, 31, 16), fourcc=b"DX10", dxgi=84), "DX10 header, BC5_SNORM")
    cases["dds_dx10_rgba"] = (dds(22, 31, r.integers(0, 256, 22 * 31 * 4, dtype=np.uint8).tobytes(), fourcc=b"DX10",
                                  dxgi=28), "DX10 header, R8G8B8A8_UNORM")
    cases["dds_bgra"] = (dds(27, 19, r.integers(0, 256, 27 * 19 * 4, dtype=np.uint8).tobytes(), pf_flags=0x41, bits=32,
                             masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)), "uncompressed BGRA by channel masks")
    cases["dds_bgr"] = (dds(27, 19, r.integers(0, 256, 27 * 19 * 3, dtype=np.uint8).tobytes(), pf_flags=0x40, bits=24,
                            masks=(0xFF0000, 0xFF00, 0xFF, 0)), "uncompressed BGR")
    cases["dds_rgba_masks"] = (dds(27, 19, r.integers(0, 256, 27 * 19 * 4, dtype=np.uint8).tobytes(), pf_flags=0x41,
                                   bits=32, masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)), "uncompressed RGBA order")
    cases["dds_luminance"] = (dds(27, 19, r.integers(0, 256, 27 * 19, dtype=np.uint8).tobytes(), pf_flags=0x20000,
                                  bits=8), "8-bit luminance: L")
    cases["dds_luminance_alpha"] = (dds(27, 19, r.integers(0, 256, 27 * 19 * 2, dtype=np.uint8).tobytes(),
                                        pf_flags=0x20001, bits=16), "luminance + alpha: LA")
    cases["dds_rgb565_masks"] = (dds(27, 19, bytes(27 * 19 * 2), pf_flags=0x40, bits=16, masks=(0xF800, 0x7E0, 0x1F, 0)),
                                 "16-bit 5-6-5 masks: Pillow has no such raw mode")
    cases["dds_dxt1_truncated"] = (dds(38, 25, blocks(38, 25, 8)[:-9], fourcc=b"DXT1"), "DXT1 blocks cut short")
    cases["dds_unknown_fourcc"] = (dds(8, 8, bytes(64), fourcc=b"XYZW"), "an unknown FourCC")
    blocks(16, 16, 16)  # drawn for an earlier case: keeps the draws of later cases
    cases.update(bptc_cases())
    return {k: (data, note, "dds") for k, (data, note) in cases.items()}


def bptc_cases():
    """BC6H and BC7: random blocks (any 16 bytes are a block), their mode bits set so that
    every mode comes several times; 32x32, which the reference's resize leaves as it is, so
    the goldens are the decoded pixels themselves."""
    r = rng(41)

    def bptc_blocks(w, h, first_bytes):
        data = r.integers(0, 256, ((w + 3) // 4) * ((h + 3) // 4) * 16, dtype=np.uint8).reshape(-1, 16)
        for k, block in enumerate(data):
            block[0] = first_bytes(k, int(block[0]))
        return data.tobytes()

    def bc7_mode(k, byte):  # mode m: m zero bits, then a one; "mode 8": a zero first byte
        m = k % 9
        return 0 if m == 8 else ((byte << (m + 1)) | (1 << m)) & 0xFF

    # Mode codes 00, 01, then the eight x10 codes, the four x11 ones and a reserved one.
    bc6_codes = [0, 1] + [2 + 4 * i for i in range(8)] + [3, 7, 11, 15, 19]

    def bc6_mode(k, byte):
        return (byte & 0xE0) | bc6_codes[k % len(bc6_codes)]

    cases = {
        "dds_bc7": (dds(32, 32, bptc_blocks(32, 32, bc7_mode), fourcc=b"DX10", dxgi=98),
                    "BC7_UNORM, 32x32: every mode, rotations, index selection, the zero first byte"),
        "dds_bc7_srgb_partial": (dds(38, 25, bptc_blocks(38, 25, bc7_mode), fourcc=b"DX10", dxgi=99),
                                 "BC7_UNORM_SRGB (read as UNORM), 38x25: partial blocks"),
        "dds_bc7_typeless": (dds(12, 8, bptc_blocks(12, 8, bc7_mode), fourcc=b"DX10", dxgi=97),
                             "BC7_TYPELESS, 12x8: upscaled"),
        "dds_bc6h_uf16": (dds(32, 32, bptc_blocks(32, 32, bc6_mode), fourcc=b"DX10", dxgi=95),
                          "BC6H_UF16, 32x32: every mode and a reserved one, halves clamped to bytes"),
        "dds_bc6h_sf16": (dds(32, 32, bptc_blocks(32, 32, bc6_mode), fourcc=b"DX10", dxgi=96),
                          "BC6H_SF16, 32x32: signed end points, Pillow's masked deltas"),
        "dds_bc6h_partial": (dds(38, 25, bptc_blocks(38, 25, bc6_mode), fourcc=b"DX10", dxgi=95),
                             "BC6H_UF16, 38x25: partial blocks"),
    }
    cases["dds_bc7_truncated"] = (cases["dds_bc7"][0][:-16], "BC7 one block short")
    return cases


# ----------------------------------------------------------------------------- JPEG 2000
def jpeg2000_cases():
    """Written by Pillow's own JPEG 2000 encoder (OpenJPEG)."""
    r = rng(30)
    cases = {}
    smooth = np.clip(np.add.outer(np.arange(29) * 7, np.arange(41) * 4)[..., None] +
                     r.integers(-30, 30, (29, 41, 4)), 0, 255).astype(np.uint8)

    def save(array, mode, ext, **options):
        out = io.BytesIO()
        Image.fromarray(array, mode).save(out, "JPEG2000", no_jp2=ext == "j2k", **options)
        return out.getvalue()

    cases["jp2_rgb_lossless"] = (save(smooth[..., :3], "RGB", "jp2"), "RGB, reversible (lossless)", "jp2")
    cases["jp2_rgb_lossy"] = (save(smooth[..., :3], "RGB", "jp2", irreversible=True, quality_mode="rates",
                                   quality_layers=[20]), "RGB, irreversible at 20:1", "jp2")
    cases["j2k_rgb_tiled"] = (save(smooth[..., :3], "RGB", "j2k", tile_size=(16, 16)),
                              "a raw codestream of 16x16 tiles, 41x29", "j2k")
    cases["j2k_rgb_tile_offset"] = (save(smooth[..., :3], "RGB", "j2k", tile_size=(16, 16), tile_offset=(5, 3),
                                         offset=(7, 4)), "image and tile offsets", "j2k")
    cases["jp2_l"] = (save(smooth[..., 0], "L", "jp2"), "gray: L", "jp2")
    cases["jp2_la"] = (save(smooth[..., :2].copy(), "LA", "jp2", irreversible=True), "gray + alpha: LA", "jp2")
    cases["jp2_rgba"] = (save(smooth, "RGBA", "jp2"), "RGB + alpha: RGBA", "jp2")
    deep = Image.fromarray(r.integers(0, 65536, (29, 41)).astype(np.uint16).astype("<u2").view("<u2"), "I;16")
    out = io.BytesIO()
    deep.save(out, "JPEG2000")
    cases["jp2_i16"] = (out.getvalue(), "16-bit gray: I;16, which the reference cannot resize", "jp2")
    whole = cases["jp2_rgb_lossy"][0]
    cases["jp2_truncated"] = (whole[: len(whole) * 2 // 3], "cut after two thirds", "jp2")
    cases.update(sycc_cases())
    return cases


def sycc_cases():
    """sYCC JPEG 2000: subsampled codestreams written by OpenJPEG's opj_compress
    (libopenjp2-tools) from raw planes: component 1 or 2 subsampled is sYCC to the reference,
    component 0 subsampled sRGB; and Pillow's own files with the JP2 colour box set to sYCC
    (enumerated colour space 18), which the reference reads as sRGB all the same."""
    r = rng(42)
    cases = {}

    def as_sycc(jp2):  # colr box: METH 1, PREC, APPROX, then the enumerated colour space
        at = jp2.index(b"colr") + 7
        assert jp2[at - 3] == 1 and struct.unpack(">I", jp2[at:at + 4])[0] == 16
        return jp2[:at] + struct.pack(">I", 18) + jp2[at + 4:]

    noise = r.integers(0, 256, (23, 37, 4), dtype=np.uint8)
    for name, mode in (("jp2_sycc", "RGB"), ("jp2_sycca", "RGBA")):
        out = io.BytesIO()
        Image.fromarray(noise[..., :len(mode)].copy(), mode).save(out, "JPEG2000")
        cases[name] = (as_sycc(out.getvalue()), f"{mode} written by Pillow, colour box set to sYCC: read as sRGB "
                       "(the reference's OpenJPEG 2.5.0 reports the colour space only after decoding)", "jp2")

    with tempfile.TemporaryDirectory() as tmp:
        def opj(name, ext, subsampling, bits=8, size=(37, 23), options=()):
            w, h = size
            planes = b""
            for dx, dy in subsampling:  # random samples, more than opj_compress reads
                n = -(-w // dx) * -(-h // dy)
                planes += (r.integers(0, 256, n, dtype=np.uint8).tobytes() if bits == 8 else
                           r.integers(0, 1 << bits, n).astype(">u2").tobytes())
            raw, out = os.path.join(tmp, name + ".raw"), os.path.join(tmp, f"{name}.{ext}")
            open(raw, "wb").write(planes)
            layout = ":".join(f"{dx}x{dy}" for dx, dy in subsampling)
            subprocess.run(["opj_compress", "-i", raw, "-o", out, "-n", "2", "-F",
                            f"{w},{h},{len(subsampling)},{bits},u@{layout}", *options], check=True, capture_output=True)
            return open(out, "rb").read()

        for name, ext, subsampling, kw, note in (
                ("j2k_sycc_420", "j2k", [(1, 1), (2, 2), (2, 2)], {}, "4:2:0, 37x23: sYCC by subsampling"),
                ("j2k_sycc_420_tiled", "j2k", [(1, 1), (2, 2), (2, 2)], {"options": ["-t", "16,16"]},
                 "4:2:0 in 16x16 tiles: Pillow's per-tile rows and buffer"),
                ("j2k_sycc_3x2", "j2k", [(1, 1), (3, 2), (3, 2)], {}, "chroma at 1/3 x 1/2: rows not whole samples"),
                ("j2k_sycc_12bit", "j2k", [(1, 1), (2, 1), (2, 1)], {"bits": 12}, "12-bit 4:2:2: shifted to 8 bits"),
                ("j2k_sycca_422", "j2k", [(1, 1), (2, 1), (2, 1), (1, 1)], {}, "4:2:2 + alpha: RGBA"),
                ("j2k_subsampled_first", "j2k", [(2, 1), (1, 1), (1, 1)], {},
                 "component 0 subsampled: sRGB to the reference"),
                ("jp2_sycc_420", "jp2", [(1, 1), (2, 2), (2, 2)], {}, "4:2:0 in a JP2 written by opj_compress")):
            cases[name] = (opj(name, ext, subsampling, **kw), note, ext)
    return cases


# ---------------------------------------------------------------------------- HEIC/AVIF
def heif_cases():
    """HEIC and AVIF, which Pillow 9.4 does not read: encoded by libheif's heif-enc (x265,
    aom; Debian's libheif-examples) from PNGs drawn here. Their goldens are libheif's own
    decode (heif-convert to PNG) through the reference transform: library-defined."""
    r = rng(26)
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        def encode(name, array, mode, args):
            png = os.path.join(tmp, name + ".png")
            Image.fromarray(array, mode).save(png)
            ext = "avif" if "-A" in args else "heic"
            out = os.path.join(tmp, f"{name}.{ext}")
            subprocess.run(["heif-enc", *args, "-o", out, png], check=True, capture_output=True)
            return open(out, "rb").read(), ext

        smooth = np.clip(np.add.outer(np.arange(23) * 9, np.arange(37) * 5)[..., None] +
                         r.integers(-20, 20, (23, 37, 3)), 0, 255).astype(np.uint8)
        alpha = np.concatenate([smooth, r.integers(0, 256, (23, 37, 1), dtype=np.uint8)], axis=2)
        data, ext = encode("heic_rgb", smooth, "RGB", ["-q", "60"])
        cases["heic_rgb"] = (data, "HEIC (x265), 37x23: odd sizes cropped by libheif", ext)
        data, ext = encode("heic_rgba", alpha, "RGBA", ["-q", "60"])
        cases["heic_rgba"] = (data, "HEIC with an alpha plane: RGBA", ext)
        data, ext = encode("avif_rgb", smooth, "RGB", ["-A", "-q", "60"])
        cases["avif_rgb"] = (data, "AVIF (aom), 37x23", ext)
        data, ext = encode("avif_rgba", alpha, "RGBA", ["-A", "-q", "60"])
        cases["avif_rgba"] = (data, "AVIF with alpha: RGBA", ext)
        data, ext = encode("avif_lossless", smooth, "RGB", ["-A", "-L"])
        cases["avif_lossless"] = (data, "lossless AVIF", ext)
        cases["heic_truncated"] = (cases["heic_rgb"][0][: len(cases["heic_rgb"][0]) // 2], "HEIC cut in half", "heic")
        # Deeper AVIF: libavif's avifenc (libavif-bin; heif-enc 1.15 aborts on 16-bit PNGs).
        for depth, array, mode in ((10, smooth, "RGB"), (12, smooth, "RGB"), (10, alpha, "RGBA")):
            name = f"avif_{depth}bit" + ("_rgba" if mode == "RGBA" else "")
            png, out = os.path.join(tmp, name + ".png"), os.path.join(tmp, name + ".avif")
            Image.fromarray(array, mode).save(png)
            subprocess.run(["avifenc", "-j", "1", "--depth", str(depth), "-s", "8", "--min", "10", "--max", "20",
                            png, out], check=True, capture_output=True)
            cases[name] = (open(out, "rb").read(), f"{depth}-bit AVIF ({mode}): libheif's 8-bit decode", "avif")
    return cases


# ----------------------------------------------------------------------------- goldens
class TransformError(Exception):
    """The reference opened the image but its transform failed."""


def reference_u8(path):
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Resize
    image = Image.open(path)
    Image.open(path).load()  # a failure here is the reference failing to open the file
    try:
        out = Compose([Resize(N_PX, interpolation=InterpolationMode.BICUBIC), CenterCrop(N_PX)])(image)
        return image, np.asarray(out.convert("RGB"))
    except Exception as e:
        raise TransformError(f"{type(e).__name__}: {e}") from e


def reference_of(path, ext):
    """The reference's image and uint8 golden; for HEIC/AVIF, which no reference reads,
    those of libheif's decode (heif-convert to PNG)."""
    if ext not in ("heic", "avif"):
        return reference_u8(path)
    png = path + ".decoded.png"
    if subprocess.run(["heif-convert", path, png], capture_output=True).returncode != 0:
        raise ValueError("libheif (heif-convert) cannot decode it")
    try:
        image, u8 = reference_u8(png)
    finally:
        os.remove(png)
    image.format = "AVIF" if ext == "avif" else "HEIF"
    return image, u8


def main():
    assert PIL.__version__ == "9.4.0", f"goldens are Pillow 9.4.0's; this is {PIL.__version__}"
    for sub in ("images", "golden"):
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    records = []
    cases = {k: (data, note, "bmp") for k, (data, note) in bmp_cases().items()}
    cases.update(netpbm_cases())
    cases.update(tga_cases())
    cases.update(icon_cases())
    cases.update(tiff_cases())
    cases.update(gif_cases())
    cases.update(psd_cases())
    cases.update(dds_cases())
    cases.update(jpeg2000_cases())
    cases.update(heif_cases())
    for case_id, (data, note, ext) in cases.items():
        file = f"images/{case_id}.{ext}"
        with open(os.path.join(HERE, file), "wb") as f:
            f.write(data)
        record = {"id": case_id, "file": file, "n_px": N_PX, "note": note}
        try:
            image, u8 = reference_of(os.path.join(HERE, file), ext)
        except TransformError as e:  # opened, but the transform fails: so must ours
            image = Image.open(os.path.join(HERE, file))
            record.update(format=image.format, mode=image.mode, size=list(image.size), expect_error=str(e))
            records.append(record)
            continue
        except Exception as e:  # the reference cannot read it: we must fail too
            record["expect_open_error"] = f"{type(e).__name__}: {e}"
            records.append(record)
            continue
        if "not supported here yet" in note:  # a known gap: we refuse it, and say so
            record["expect_not_supported"] = f"the reference opens it as mode {image.mode}"
            records.append(record)
            continue
        golden = f"golden/{case_id}_rgb_u8.npy"
        np.save(os.path.join(HERE, golden), u8)
        record.update(format=image.format, mode=image.mode, size=list(image.size), golden_rgb_u8=golden)
        records.append(record)
    with open(os.path.join(HERE, "manifest.jsonl"), "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print(f"{len(records)} cases, {sum('expect_open_error' in r for r in records)} the reference refuses")


if __name__ == "__main__":
    main()
