/*
 * One stored page inflated from its zlib stream (RFC 1950, 1951) for pg_probackup's per-page format
 * (spec §5.2): WebAssembly built by scripts/build-wasm.sh into core/pageInflateWasm.ts.
 *
 * Why not zlib: per page it builds decoding tables for the page's Huffman codes, as long as
 * decoding the page itself (inflate_table against inflate_fast in a zlib restore's profile). Our
 * pages mostly share their codes with the page before (core/pageDeflate.c keeps its trees), and
 * then so does their header, bit for bit. This inflate keeps the tables of the last header it read
 * and reuses them when the next stream's header bytes are the same.
 *
 * It answers only for a stream that inflates to exactly one page, has every byte of it used and a
 * matching Adler-32; anything else (another size, a malformed or truncated stream) returns -1 and
 * the caller asks zlib, which says what is wrong. It never answers differently from zlib for a
 * stream zlib inflates to a page: the checks are zlib's (over-subscribed or incomplete codes,
 * invalid symbols, distances before the start, code-length repeats with nothing to repeat).
 *
 * Decoding tables after libdeflate's design (E. Biggers): one 32-bit entry per table slot holds
 * the symbol's value, its length in bits and its extra bits, so a symbol is one lookup; codes
 * longer than the root table's bits go through a subtable. A 64-bit bit buffer is refilled eight
 * bytes at a time, branch-free.
 *
 * No libc: memory is static, and memset/memcpy are the engine's bulk-memory instructions.
 */
#include <stdint.h>
#include <wasm_simd128.h>
#include "adler32.h"

#define memset __builtin_memset
#define memcpy __builtin_memcpy

#define PAGE 8192
#define IN_MAX (PAGE * 2)
/* Refills read up to 8 bytes past the last one used; the input is followed by zeros. */
#define IN_PAD 16
/* Match copies write whole 8-byte words, up to 7 bytes past the match. */
#define OUT_SLACK 32

static uint8_t in[IN_MAX + IN_PAD];
static uint8_t out[PAGE + OUT_SLACK];

/*
 * Entry: flags | value << 12 | extra << 8 | bits. A literal has the sign bit; a subtable pointer,
 * the end of the block and an invalid symbol are exceptional, so that the common symbols cost one
 * test each.
 */
#define F_LITERAL 0x80000000u
#define F_EXCEPTIONAL 0x40000000u
#define F_SUBTABLE 0x20000000u
#define F_END 0x10000000u
#define E_BITS(e) ((e) & 0xff)
#define E_EXTRA(e) (((e) >> 8) & 0xf)
#define E_VALUE(e) (((e) >> 12) & 0xffff)
#define ENTRY(flags, value, extra, bits) ((uint32_t)(flags) | (uint32_t)(value) << 12 | (uint32_t)(extra) << 8 | (uint32_t)(bits))
#define LITERAL(v) ENTRY(F_LITERAL, v, 0, 0)
#define LENGTH(base, extra) ENTRY(0, base, extra, 0)
#define END ENTRY(F_EXCEPTIONAL | F_END, 0, 0, 0)
#define INVALID ENTRY(F_EXCEPTIONAL, 0, 0, 0)
#define SUBTABLE(start, bits, root) ENTRY(F_EXCEPTIONAL | F_SUBTABLE, start, bits, root)

#define LITLEN_ROOT 10
#define DIST_ROOT 8
#define CODELEN_ROOT 7
/* Root plus subtables: zlib's enough(286, 10, 15) = 1332 and enough(30, 8, 15) = 402, rounded up. */
#define LITLEN_TABLE 1400
#define DIST_TABLE 420

static const uint16_t LEN_BASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t CL_ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* What each symbol decodes to, without its length in bits (filled in by build()). */
static uint32_t litlen_sym[288], dist_sym[32], codelen_sym[19];

/* The tables of the last dynamic header read, and the header's bytes (from the stream's byte 2). */
static uint32_t litlen_table[LITLEN_TABLE], dist_table[DIST_TABLE];
static uint8_t kept_header[320];
static int kept_bytes = 0;      /* 0: no tables kept */
static int kept_last_bits = 0;  /* bits of the header in its last byte (1..8) */
static int kept_end_bit = 0;    /* the bit (from the stream's start) just after the header */

static uint32_t fixed_litlen[LITLEN_TABLE], fixed_dist[DIST_TABLE];
static uint32_t codelen_table[1 << CODELEN_ROOT];
static int ready = 0;

__attribute__((export_name("page_in"))) uint8_t *page_in(void) { return in; }
__attribute__((export_name("page_out"))) uint8_t *page_out(void) { return out; }

/* The next code of `len` bits after `code`, both bit-reversed (codes are read lowest bit first). */
static inline uint32_t next_reversed(uint32_t code, int len) {
  uint32_t zeros = code ^ ((1u << len) - 1);
  if (zeros == 0) return 0;
  uint32_t bit = 1u << (31 - __builtin_clz(zeros));
  return (code & (bit - 1)) | bit;
}

/*
 * The decoding table for code lengths lens[0..n): `sym` gives each symbol's entry without its bit
 * count. -1 for a set of lengths zlib refuses: over-subscribed, or incomplete unless it is a single
 * code of one bit (litlen and distance codes only); a table of invalid entries when nothing is
 * coded (a distance code that is never used).
 *
 * Codes go in canonical order, bit-reversed. The root table grows with the code length: what is
 * filled for codes of up to `len` bits is copied to double it for `len + 1` (a shorter code's slot
 * repeats every 2^len). Codes longer than the root go in subtables, one per root slot they share,
 * as wide as the codes under that slot need.
 */
static int build(uint32_t *table, int size, int root, const uint8_t *lens, int n, const uint32_t *sym, int codelen_code) {
  uint16_t count[16] = {0}, offs[16];
  uint16_t sorted[288];
  for (int i = 0; i < n; i++) count[lens[i]]++;
  int max = 15;
  while (max > 0 && count[max] == 0) max--;
  const uint32_t invalid = INVALID | 1;
  if (max == 0) {
    for (int i = 0; i < (1 << root); i++) table[i] = invalid;
    return codelen_code ? -1 : 0;
  }
  int left = 1;
  for (int len = 1; len <= 15; len++) {
    left <<= 1;
    left -= count[len];
    if (left < 0) return -1;
  }
  if (left > 0) {
    if (codelen_code || max != 1) return -1;
    table[0] = table[1] = invalid; /* the one code takes one of the two slots */
  }
  offs[1] = 0;
  for (int len = 1; len < 15; len++) offs[len + 1] = offs[len] + count[len];
  for (int i = 0; i < n; i++)
    if (lens[i]) sorted[offs[lens[i]]++] = (uint16_t)i;

  uint32_t code = 0;
  int k = 0;
  int len = 1;
  for (; len <= root; len++) {
    if (len > 1) memcpy(table + (1 << (len - 1)), table, sizeof(uint32_t) << (len - 1));
    for (int c = count[len]; c > 0; c--, k++) {
      table[code] = sym[sorted[k]] | (uint32_t)len;
      code = next_reversed(code, len);
    }
  }
  int next = 1 << root;
  uint32_t sub_prefix = 0xffffffffu;
  int sub_start = 0, sub_bits = 0;
  for (; len <= max; len++) {
    for (int c = count[len]; c > 0; c--, k++) {
      uint32_t prefix = code & ((1u << root) - 1);
      if (prefix != sub_prefix) {
        /* As many bits as it takes for the codes under this prefix to fill the subtable. */
        sub_bits = len - root;
        int space = 1 << sub_bits, l = len, remaining = c;
        for (;;) {
          space -= remaining;
          if (space <= 0 || l == 15) break;
          sub_bits++;
          l++;
          space <<= 1;
          remaining = count[l];
        }
        if (next + (1 << sub_bits) > size) return -1;
        sub_start = next;
        next += 1 << sub_bits;
        sub_prefix = prefix;
        table[prefix] = SUBTABLE(sub_start, sub_bits, root);
      }
      uint32_t e = sym[sorted[k]] | (uint32_t)(len - root);
      for (uint32_t i = code >> root; i < (1u << sub_bits); i += 1u << (len - root)) table[sub_start + i] = e;
      code = next_reversed(code, len);
    }
  }
  return 0;
}

static void init(void) {
  for (int i = 0; i < 256; i++) litlen_sym[i] = LITERAL(i);
  litlen_sym[256] = END;
  for (int i = 0; i < 29; i++) litlen_sym[257 + i] = LENGTH(LEN_BASE[i], LEN_EXTRA[i]);
  litlen_sym[286] = litlen_sym[287] = INVALID;
  for (int i = 0; i < 30; i++) dist_sym[i] = LENGTH(DIST_BASE[i], DIST_EXTRA[i]);
  dist_sym[30] = dist_sym[31] = INVALID;
  for (int i = 0; i < 19; i++) codelen_sym[i] = LENGTH(i, 0);
  uint8_t lens[288];
  for (int i = 0; i < 144; i++) lens[i] = 8;
  for (int i = 144; i < 256; i++) lens[i] = 9;
  for (int i = 256; i < 280; i++) lens[i] = 7;
  for (int i = 280; i < 288; i++) lens[i] = 8;
  int bad = build(fixed_litlen, LITLEN_TABLE, LITLEN_ROOT, lens, 288, litlen_sym, 0);
  /* 32 codes, the last two invalid: without them the code would be incomplete. */
  for (int i = 0; i < 32; i++) lens[i] = 5;
  bad |= build(fixed_dist, DIST_TABLE, DIST_ROOT, lens, 32, dist_sym, 0);
  ready = bad ? -1 : 1;
}

/* The bit reader: `bb` holds `bc` unread bits, lowest first; `p` is the next byte to load. */
#define REFILL()                                            \
  do {                                                      \
    uint64_t w;                                             \
    memcpy(&w, p, 8);                                       \
    bb |= w << bc;                                          \
    p += (63 - bc) >> 3;                                    \
    bc |= 56;                                               \
  } while (0)
#define DROP(n) (bb >>= (n), bc -= (n))
#define BITS(n) ((uint32_t)bb & ((1u << (n)) - 1))

/*
 * After a length symbol's entry `e` (its code bits dropped): the match's length, then its distance
 * from the distance table `dt`; an invalid distance code ends page_inflate with -1.
 */
#define READ_MATCH(e, len, dist)                 \
  do {                                           \
    uint32_t x_ = E_EXTRA(e);                    \
    (len) = E_VALUE(e) + BITS(x_);               \
    DROP(x_);                                    \
    (e) = dt[BITS(DIST_ROOT)];                   \
    if ((e) & F_EXCEPTIONAL) {                   \
      if (!((e) & F_SUBTABLE)) return -1;        \
      DROP(DIST_ROOT);                           \
      (e) = dt[E_VALUE(e) + BITS(E_EXTRA(e))];   \
      if ((e) & F_EXCEPTIONAL) return -1;        \
    }                                            \
    DROP(E_BITS(e));                             \
    x_ = E_EXTRA(e);                             \
    (dist) = E_VALUE(e) + BITS(x_);              \
    DROP(x_);                                    \
  } while (0)

/* dist bytes back, len bytes: whole 16- or 8-byte words where the source is that far back. */
static inline uint8_t *copy_match(uint8_t *o, uint32_t dist, uint32_t len) {
  const uint8_t *from = o - dist;
  uint8_t *to = o;
  o += len;
  if (dist >= 16) {
    do {
      wasm_v128_store(to, wasm_v128_load(from));
      from += 16;
      to += 16;
    } while (to < o);
  } else if (dist >= 8) {
    do {
      uint64_t w;
      memcpy(&w, from, 8);
      memcpy(to, &w, 8);
      from += 8;
      to += 8;
    } while (to < o);
  } else if (dist == 1) {
    v128_t w = wasm_i8x16_splat(*from);
    do {
      wasm_v128_store(to, w);
      to += 16;
    } while (to < o);
  } else {
    do *to++ = *from++;
    while (to < o);
  }
  return o;
}

/* Reads the code lengths of a dynamic block and builds its tables. 0, or -1 for a bad header. */
static int read_header(const uint8_t **pp, uint64_t *pbb, uint32_t *pbc) {
  const uint8_t *p = *pp;
  uint64_t bb = *pbb;
  uint32_t bc = *pbc;
  uint8_t lens[288 + 32];
  uint8_t cl[19];
  REFILL();
  uint32_t nlit = BITS(5) + 257;
  DROP(5);
  uint32_t ndist = BITS(5) + 1;
  DROP(5);
  uint32_t ncl = BITS(4) + 4;
  DROP(4);
  if (nlit > 286 || ndist > 30) return -1;
  memset(cl, 0, sizeof cl);
  for (uint32_t i = 0; i < ncl; i++) {
    if (bc < 3) REFILL();
    cl[CL_ORDER[i]] = (uint8_t)BITS(3);
    DROP(3);
  }
  if (build(codelen_table, 1 << CODELEN_ROOT, CODELEN_ROOT, cl, 19, codelen_sym, 1) < 0) return -1;
  uint32_t n = nlit + ndist;
  for (uint32_t i = 0; i < n;) {
    if (bc < 16) REFILL();
    uint32_t e = codelen_table[BITS(CODELEN_ROOT)];
    if (e & F_EXCEPTIONAL) return -1;
    DROP(E_BITS(e));
    uint32_t s = E_VALUE(e);
    if (s < 16) {
      lens[i++] = (uint8_t)s;
      continue;
    }
    uint32_t rep;
    uint8_t v = 0;
    if (s == 16) {
      if (i == 0) return -1;
      v = lens[i - 1];
      rep = 3 + BITS(2);
      DROP(2);
    } else if (s == 17) {
      rep = 3 + BITS(3);
      DROP(3);
    } else {
      rep = 11 + BITS(7);
      DROP(7);
    }
    if (i + rep > n) return -1;
    while (rep--) lens[i++] = v;
  }
  if (lens[256] == 0) return -1; /* no end-of-block code */

  if (build(litlen_table, LITLEN_TABLE, LITLEN_ROOT, lens, (int)nlit, litlen_sym, 0) < 0) return -1;
  if (build(dist_table, DIST_TABLE, DIST_ROOT, lens + nlit, (int)ndist, dist_sym, 0) < 0) return -1;

  *pp = p;
  *pbb = bb;
  *pbc = bc;
  return 0;
}

/*
 * Inflates the n bytes at page_in() into page_out(): PAGE when the stream holds exactly one page,
 * else -1 (the caller asks zlib).
 */
__attribute__((export_name("page_inflate"))) int page_inflate(uint32_t n) {
  if (!ready) init();
  if (ready < 0) return -1;
  if (n < 2 + 1 + 4 || n > IN_MAX) return -1;
  memset(in + n, 0, IN_PAD);
  /* zlib header: deflate, a window of at most 32 KiB, no preset dictionary, check bits. */
  if ((in[0] & 0x0f) != 8 || (in[0] >> 4) > 7 || (in[1] & 0x20) || ((in[0] << 8) | in[1]) % 31) return -1;
  const uint8_t *p = in + 2;
  const uint8_t *limit = in + n + 8;
  uint64_t bb = 0;
  uint32_t bc = 0;
  uint8_t *o = out, *const end = out + PAGE;
  uint8_t *const fast_end = end - 3 - 258;
  int first = 1, last;
  do {
    const uint32_t *lt, *dt;
    if (bc < 3) REFILL();
    last = BITS(1);
    uint32_t type = (bb >> 1) & 3;
    if (type == 2) {
      /* The header's bits compared at byte level: the first block's start after the zlib header. */
      if (first && kept_bytes && n > (uint32_t)kept_bytes + 2) {
        int same = 1;
        for (int i = 0; i < kept_bytes - 1; i++)
          if (in[2 + i] != kept_header[i]) { same = 0; break; }
        if (same && ((in[2 + kept_bytes - 1] ^ kept_header[kept_bytes - 1]) & ((1u << kept_last_bits) - 1))) same = 0;
        if (same) {
          p = in + kept_end_bit / 8;
          bb = 0;
          bc = 0;
          REFILL();
          DROP(kept_end_bit & 7);
          goto decode_kept;
        }
      }
      DROP(3);
      kept_bytes = 0;
      if (read_header(&p, &bb, &bc) < 0) return -1;
      if (first) {
        int end_bit = (int)((p - in) * 8 - bc);
        int bytes = (end_bit - 16 + 7) / 8;
        if (bytes <= (int)sizeof kept_header) {
          memcpy(kept_header, in + 2, (uint32_t)bytes);
          kept_bytes = bytes;
          kept_last_bits = end_bit & 7 ? end_bit & 7 : 8;
          kept_end_bit = end_bit;
        }
      }
    decode_kept:
      lt = litlen_table;
      dt = dist_table;
    } else if (type == 1) {
      DROP(3);
      lt = fixed_litlen;
      dt = fixed_dist;
    } else if (type == 0) {
      DROP(3);
      DROP(bc & 7);
      /* The bit buffer holds whole bytes now: step back to the first unread one. */
      p -= bc >> 3;
      bb = 0;
      bc = 0;
      if (p + 4 > in + n) return -1;
      uint32_t len = p[0] | p[1] << 8, nlen = p[2] | p[3] << 8;
      p += 4;
      if (len != (~nlen & 0xffff) || p + len > in + n || len > (uint32_t)(end - o)) return -1;
      memcpy(o, p, len);
      o += len;
      p += len;
      first = 0;
      continue;
    } else {
      return -1;
    }
    first = 0;
    /* While a whole match and its copy's overrun fit, no output checks per symbol. */
    while (o < fast_end) {
      REFILL();
      if (p > limit) return -1; /* past the input's end: truncated */
      uint32_t e = lt[BITS(LITLEN_ROOT)];
      if (e & F_LITERAL) {
        /* Two more literals fit in the bits left (56 - 15). */
        DROP(E_BITS(e));
        *o++ = (uint8_t)E_VALUE(e);
        e = lt[BITS(LITLEN_ROOT)];
        if (e & F_LITERAL) {
          DROP(E_BITS(e));
          *o++ = (uint8_t)E_VALUE(e);
          e = lt[BITS(LITLEN_ROOT)];
          if (e & F_LITERAL) {
            DROP(E_BITS(e));
            *o++ = (uint8_t)E_VALUE(e);
            continue;
          }
        }
        REFILL();
      }
      if (e & F_EXCEPTIONAL) {
        if (e & F_SUBTABLE) {
          DROP(LITLEN_ROOT);
          e = lt[E_VALUE(e) + BITS(E_EXTRA(e))];
          if (e & F_LITERAL) {
            DROP(E_BITS(e));
            *o++ = (uint8_t)E_VALUE(e);
            continue;
          }
        }
        if (e & F_EXCEPTIONAL) {
          if (e & F_END) {
            DROP(E_BITS(e));
            goto block_end;
          }
          return -1;
        }
      }
      DROP(E_BITS(e));
      uint32_t len, dist;
      READ_MATCH(e, len, dist);
      if (dist > (uint32_t)(o - out)) return -1;
      o = copy_match(o, dist, len);
    }
    /* The last bytes of the page: every symbol checked against the end. */
    for (;;) {
      REFILL();
      if (p > limit) return -1;
      uint32_t e = lt[BITS(LITLEN_ROOT)];
      if (e & F_SUBTABLE) {
        DROP(LITLEN_ROOT);
        e = lt[E_VALUE(e) + BITS(E_EXTRA(e))];
      }
      DROP(E_BITS(e));
      if (e & F_LITERAL) {
        if (o == end) return -1;
        *o++ = (uint8_t)E_VALUE(e);
        continue;
      }
      if (e & F_EXCEPTIONAL) {
        if (e & F_END) break;
        return -1;
      }
      uint32_t len, dist;
      READ_MATCH(e, len, dist);
      if (dist > (uint32_t)(o - out) || len > (uint32_t)(end - o)) return -1;
      o = copy_match(o, dist, len);
    }
  block_end:;
  } while (!last);
  if (o != end) return -1;
  /* The Adler-32 after the last block, from the next whole byte. */
  DROP(bc & 7);
  p -= bc >> 3;
  if (p + 4 != in + n) return -1;
  uint32_t want = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  if (adler32(out, PAGE) != want) return -1;
  return PAGE;
}
