/*
 * Adler-32 (RFC 1950) in WebAssembly SIMD, for the page codecs (core/pageDeflate.c,
 * core/pageInflate.c): included by both, each built into a module of its own.
 */
#ifndef GS_ADLER32_H
#define GS_ADLER32_H
#include <stdint.h>
#include <wasm_simd128.h>

/*
 * Adler-32 in SIMD, 32 bytes a step. Each byte adds to a, and to b once per byte after it: per step
 * the byte sums go to `va`, `va` before the step to `vp` (32 times each, later), and the bytes by
 * position to 16-bit column sums, weighed 32..1 once per chunk; 128 steps keep a column under 2^15.
 */
static uint32_t adler32(const uint8_t *buf, uint32_t n) {
  uint32_t a = 1, b = 0;
  const v128_t w0 = wasm_i16x8_make(32, 31, 30, 29, 28, 27, 26, 25), w1 = wasm_i16x8_make(24, 23, 22, 21, 20, 19, 18, 17);
  const v128_t w2 = wasm_i16x8_make(16, 15, 14, 13, 12, 11, 10, 9), w3 = wasm_i16x8_make(8, 7, 6, 5, 4, 3, 2, 1);
  while (n >= 32) {
    uint32_t steps = n / 32;
    if (steps > 128) steps = 128;
    n -= steps * 32;
    v128_t va = wasm_i32x4_splat(0), vp = va, c0 = va, c1 = va, c2 = va, c3 = va;
    for (uint32_t k = 0; k < steps; k++, buf += 32) {
      v128_t x = wasm_v128_load(buf), y = wasm_v128_load(buf + 16);
      vp = wasm_i32x4_add(vp, va);
      va = wasm_i32x4_add(va, wasm_u32x4_extadd_pairwise_u16x8(wasm_i16x8_add(wasm_u16x8_extadd_pairwise_u8x16(x), wasm_u16x8_extadd_pairwise_u8x16(y))));
      c0 = wasm_i16x8_add(c0, wasm_u16x8_extend_low_u8x16(x));
      c1 = wasm_i16x8_add(c1, wasm_u16x8_extend_high_u8x16(x));
      c2 = wasm_i16x8_add(c2, wasm_u16x8_extend_low_u8x16(y));
      c3 = wasm_i16x8_add(c3, wasm_u16x8_extend_high_u8x16(y));
    }
    v128_t vb = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(c0, w0), wasm_i32x4_dot_i16x8(c1, w1)),
                               wasm_i32x4_add(wasm_i32x4_dot_i16x8(c2, w2), wasm_i32x4_dot_i16x8(c3, w3)));
    uint64_t sa = (uint64_t)wasm_u32x4_extract_lane(va, 0) + wasm_u32x4_extract_lane(va, 1) + wasm_u32x4_extract_lane(va, 2) + wasm_u32x4_extract_lane(va, 3);
    uint64_t sp = (uint64_t)wasm_u32x4_extract_lane(vp, 0) + wasm_u32x4_extract_lane(vp, 1) + wasm_u32x4_extract_lane(vp, 2) + wasm_u32x4_extract_lane(vp, 3);
    uint64_t sb = (uint64_t)wasm_u32x4_extract_lane(vb, 0) + wasm_u32x4_extract_lane(vb, 1) + wasm_u32x4_extract_lane(vb, 2) + wasm_u32x4_extract_lane(vb, 3);
    b = (uint32_t)((b + (uint64_t)a * 32 * steps + 32 * sp + sb) % 65521);
    a = (uint32_t)((a + sa) % 65521);
  }
  while (n--) {
    a += *buf++;
    b += a;
  }
  return (b % 65521) << 16 | (a % 65521);
}

#endif
