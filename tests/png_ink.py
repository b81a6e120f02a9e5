#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that a PNG screenshot is not blank: the share of pixels that are not (near) white and
the number of distinct saturated colours (the plots' lines). Standard library only.
    png_ink.py FILE.png [--min-ink 0.02] [--min-colors 4]"""
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

def main():
    path = sys.argv[1]
    min_ink = float(sys.argv[sys.argv.index("--min-ink") + 1]) if "--min-ink" in sys.argv else 0.02
    min_colors = int(sys.argv[sys.argv.index("--min-colors") + 1]) if "--min-colors" in sys.argv else 4
    w, h, bpp, rows = read_png(path)
    ink, colors = 0, set()
    for line in rows:
        for x in range(0, w * bpp, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if min(r, g, b) < 235:
                ink += 1
            if max(r, g, b) - min(r, g, b) > 80:
                colors.add((r >> 5, g >> 5, b >> 5))
    share = ink / (w * h)
    print(f"{path}: {w}x{h}, {share:.1%} of the pixels not white, {len(colors)} saturated colour(s)")
    if share < min_ink or len(colors) < min_colors:
        sys.exit(f"blank or colourless screenshot (need {min_ink:.0%} ink and {min_colors} colours)")

if __name__ == "__main__":
    main()
