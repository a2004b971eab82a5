/*
 * One data page (at most 8 KiB) deflated as a zlib stream, for pg_probackup's per-page format
 * (spec §5.2): WebAssembly built by scripts/build-wasm.sh into core/pageDeflateWasm.ts.
 *
 * Why not zlib: its deflate is built for streams. Per page it resets a context, slides its window
 * and builds Huffman trees through general code: about 40 us per pgbench table page at level 1 here,
 * against 10 us per page for one stream over the whole file. This encoder knows its input is one
 * small buffer: a single-probe hash of 4 bytes with greedy matches (zlib level 1 parses much the
 * same way), frequencies counted as it goes, lengths by Moffat and Katajainen's in-place algorithm
 * on a radix sort, and a 64-bit bit buffer. Any inflate reads it: a dynamic-Huffman block, a zlib
 * header for an 8 KiB window and the Adler-32 trailer (RFC 1950, 1951).
 *
 * Pages of one relation look alike, and building trees was 40 % of a pgbench_accounts page's time.
 * So the trees of one page are kept, with their header already encoded, for the pages after it
 * while they still fit: every symbol has a code (each gets a quarter of an occurrence when trees
 * are built), and a page is sent with the kept trees when they cost it at most 2 % more than the
 * estimate of fresh ones: its entropy plus the bits per symbol fresh trees spent above entropy on
 * the page they were built for. Each stream still carries its trees and stands alone. That made
 * pgbench_accounts pages twice as fast again and a cluster's mix of pages 1.3 times, for output
 * 4-10 % larger than zlib level 1's instead of 3-5 %, and a fifth more time for zlib to inflate a
 * table page: it builds decoding tables for every code the trees send.
 *
 * No libc: memory is static, and memset/memcpy are the engine's bulk-memory instructions.
 */
#include <stdint.h>
#include <wasm_simd128.h>
#include "adler32.h"

#define memset __builtin_memset
#define memcpy __builtin_memcpy

#define PAGE 8192
#define HASH_BITS 12
#define MAX_MATCH 258

/* The page in, the stream out: the host writes and reads these through page_in() and page_out(). */
static uint8_t in[PAGE];
static uint8_t out[PAGE + 64];

/*
 * Hash chains of length one: position + generation. Each page adds PAGE * 2 to the generation, so
 * an entry left by an earlier page reads as negative and the table is never cleared per page.
 */
static int32_t head[1 << HASH_BITS];
static int32_t generation = 0;

/* Symbols in order: a literal byte, or MATCH_FLAG | length << 16 | distance. */
#define MATCH_FLAG 0x80000000u
static uint32_t symbols[PAGE];
static uint16_t litlen_freq[286], dist_freq[30];

static const uint16_t LEN_BASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* The order in which code-length code lengths are sent (RFC 1951 3.2.7). */
static const uint8_t CL_ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static uint8_t len_code[MAX_MATCH + 1]; /* length -> index into LEN_BASE */
static uint8_t dist_code[PAGE];         /* distance -> index into DIST_BASE */
static int tables_ready = 0;

static uint8_t reversed_byte[256];
static float f_log2_f[PAGE + 2]; /* f * log2(f): a page has at most PAGE + 1 symbols */

/* log2(x) for x >= 1, to a few ulp: only to fill f_log2_f (no libm here). */
static float log2_of(float x) {
  int e = 0;
  while (x >= 2.0f) { x *= 0.5f; e++; }
  /* ln(x) = 2 atanh((x - 1) / (x + 1)), whose series converges fast for x in [1, 2). */
  float y = (x - 1.0f) / (x + 1.0f), y2 = y * y, term = y, sum = 0.0f;
  for (int k = 1; k < 16; k += 2) { sum += term / (float)k; term *= y2; }
  return (float)e + 2.0f * sum * 1.44269504f;
}

static void init_tables(void) {
  for (int f = 1; f < PAGE + 2; f++) f_log2_f[f] = (float)f * log2_of((float)f);
  for (int v = 0; v < 256; v++) {
    int r = 0;
    for (int i = 0; i < 8; i++) r |= ((v >> i) & 1) << (7 - i);
    reversed_byte[v] = (uint8_t)r;
  }
  for (int c = 0; c < 29; c++) {
    int last = c == 28 ? MAX_MATCH : LEN_BASE[c + 1] - 1;
    for (int l = LEN_BASE[c]; l <= last; l++) len_code[l] = (uint8_t)c;
  }
  for (int c = 0; c < 30 && DIST_BASE[c] < PAGE; c++) {
    int end = c < 29 && DIST_BASE[c + 1] < PAGE ? DIST_BASE[c + 1] : PAGE;
    for (int d = DIST_BASE[c]; d < end; d++) dist_code[d] = (uint8_t)c;
  }
  tables_ready = 1;
}

/* ---- Huffman code lengths ---- */

static uint32_t sorted[320], sort_tmp[320];
static int32_t work[320];
static uint16_t bl_count[16];

/* Ascending by frequency (16 bits from bit 9 of each entry; the symbol is in the low 9): LSD radix. */
static void sort_by_frequency(uint32_t *a, int n) {
  uint16_t count[256];
  for (int shift = 9; shift < 25; shift += 8) {
    memset(count, 0, sizeof count);
    for (int i = 0; i < n; i++) count[(a[i] >> shift) & 255]++;
    int sum = 0;
    for (int k = 0; k < 256; k++) { int c = count[k]; count[k] = (uint16_t)sum; sum += c; }
    for (int i = 0; i < n; i++) sort_tmp[count[(a[i] >> shift) & 255]++] = a[i];
    memcpy(a, sort_tmp, (unsigned)n * 4);
  }
}

/*
 * Length-limited Huffman code lengths for freq[0..n) into lens. At least two symbols get a code
 * (an unused one if need be): inflate wants a complete code. Depths beyond max_bits are folded
 * back and the Kraft sum repaired by lengthening the deepest shorter codes, as miniz does.
 */
static void build_lengths(const uint16_t *freq, int n, uint8_t *lens, int max_bits) {
  int m = 0;
  for (int s = 0; s < n; s++) {
    lens[s] = 0;
    if (freq[s]) sorted[m++] = ((uint32_t)freq[s] << 9) | (uint32_t)s;
  }
  for (int s = 0; m < 2; s++) if (!freq[s]) sorted[m++] = (1u << 9) | (uint32_t)s;
  sort_by_frequency(sorted, m);

  /* Moffat & Katajainen, "In-place calculation of minimum-redundancy codes" (1995). */
  int32_t *A = work;
  for (int i = 0; i < m; i++) A[i] = (int32_t)(sorted[i] >> 9);
  int root = 0, leaf = 0, next;
  for (next = 0; next < m - 1; next++) {
    if (leaf >= m || (root < next && A[root] < A[leaf])) { A[next] = A[root]; A[root++] = next; } else A[next] = A[leaf++];
    if (leaf >= m || (root < next && A[root] < A[leaf])) { A[next] += A[root]; A[root++] = next; } else A[next] += A[leaf++];
  }
  A[m - 2] = 0;
  for (next = m - 3; next >= 0; next--) A[next] = A[A[next]] + 1;
  int avail = 1, used = 0, depth = 0;
  root = m - 2;
  next = m - 1;
  while (avail > 0) {
    while (root >= 0 && A[root] == depth) { used++; root--; }
    while (avail > used) { A[next--] = depth; avail--; }
    avail = 2 * used;
    depth++;
    used = 0;
  }

  memset(bl_count, 0, sizeof bl_count);
  int over = 0;
  for (int i = 0; i < m; i++) {
    int d = A[i];
    if (d > max_bits) { d = max_bits; over = 1; }
    bl_count[d]++;
  }
  if (over) {
    uint32_t total = 0;
    for (int i = max_bits; i > 0; i--) total += (uint32_t)bl_count[i] << (max_bits - i);
    while (total != (1u << max_bits)) {
      bl_count[max_bits]--;
      for (int i = max_bits - 1; i > 0; i--) {
        if (bl_count[i]) { bl_count[i]--; bl_count[i + 1] += 2; break; }
      }
      total--;
    }
  }
  /* The rarest symbols take the longest codes. */
  int k = 0;
  for (int d = max_bits; d > 0; d--)
    for (int c = bl_count[d]; c > 0; c--) lens[sorted[k++] & 511] = (uint8_t)d;
}

/* Canonical codes (RFC 1951 3.2.2), bit-reversed: deflate sends Huffman codes from their top bit. */
static void build_codes(const uint8_t *lens, int n, uint16_t *codes) {
  uint16_t next_code[16];
  memset(bl_count, 0, sizeof bl_count);
  for (int s = 0; s < n; s++) bl_count[lens[s]]++;
  bl_count[0] = 0;
  int code = 0;
  for (int b = 1; b < 16; b++) { code = (code + bl_count[b - 1]) << 1; next_code[b] = (uint16_t)code; }
  for (int s = 0; s < n; s++) {
    int l = lens[s];
    if (!l) continue;
    int c = next_code[l]++;
    codes[s] = (uint16_t)(((reversed_byte[c & 255] << 8) | reversed_byte[c >> 8]) >> (16 - l));
  }
}

/* ---- Output ---- */

static uint8_t *op;
static uint64_t bit_buf;
static int bit_count;

static inline void put_bits(uint32_t value, int n) {
  bit_buf |= (uint64_t)value << bit_count;
  bit_count += n;
  if (bit_count >= 32) {
    memcpy(op, &bit_buf, 4);
    op += 4;
    bit_buf >>= 32;
    bit_count -= 32;
  }
}

static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t litlen_lens[286], dist_lens[30], cl_lens[19];
static uint16_t litlen_codes[286], dist_codes[30], cl_codes[19];
static uint8_t all_lens[316];
static uint16_t cl_symbols[316], cl_freq[19];
static uint32_t len_bits[MAX_MATCH + 1];
static uint8_t len_nbits[MAX_MATCH + 1];

/* ---- Trees, kept from page to page ---- */

static int trees_ready = 0;
/* Bits per symbol above entropy that fresh trees spent on the page they were built for. */
static float trees_redundancy;
/* The block's header as put_bits left it: whole 32-bit words, then bits not yet written. */
static uint8_t header[640];
static int header_bytes, header_bits;
static uint64_t header_tail;
static int header_tail_bits;
static uint16_t padded[286];

/* The Shannon bound, in bits, on coding these frequencies (each code alone). */
static float entropy_bits(const uint16_t *freq, int n) {
  uint32_t total = 0;
  float sum = 0.0f;
  for (int s = 0; s < n; s++) { total += freq[s]; sum += f_log2_f[freq[s]]; }
  return f_log2_f[total] - sum;
}

/* The page's symbols in bits under the current trees (extra bits aside), or UINT32_MAX when one has no code. */
static uint32_t code_bits(void) {
  uint32_t bits = 0, missing = 0;
  for (int s = 0; s < 286; s++) { bits += litlen_freq[s] * (uint32_t)litlen_lens[s]; missing |= litlen_freq[s] && !litlen_lens[s]; }
  for (int s = 0; s < 30; s++) { bits += dist_freq[s] * (uint32_t)dist_lens[s]; missing |= dist_freq[s] && !dist_lens[s]; }
  return missing ? UINT32_MAX : bits;
}

/*
 * Trees for this page's frequencies in which every symbol a page can use has a code (a quarter of
 * an occurrence each), so that pages after it can use them; the header that sends them (the code
 * lengths run-length coded with 16, 17 and 18); and the length codes with their extra bits.
 */
static void build_trees(void) {
  for (int s = 0; s < 286; s++) padded[s] = (uint16_t)(litlen_freq[s] * 4u + 1u);
  build_lengths(padded, 286, litlen_lens, 15);
  /* Distances in a page are under 8192: codes 26 to 29 are never used. */
  for (int s = 0; s < 30; s++) padded[s] = s < 26 ? (uint16_t)(dist_freq[s] * 4u + 1u) : 0;
  build_lengths(padded, 30, dist_lens, 15);
  int hlit = 286, hdist = 30;
  while (hlit > 257 && !litlen_lens[hlit - 1]) hlit--;
  while (hdist > 1 && !dist_lens[hdist - 1]) hdist--;
  int total = 0;
  for (int s = 0; s < hlit; s++) all_lens[total++] = litlen_lens[s];
  for (int s = 0; s < hdist; s++) all_lens[total++] = dist_lens[s];
  memset(cl_freq, 0, sizeof cl_freq);
  int ncl = 0;
  for (int s = 0; s < total;) {
    int l = all_lens[s], run = 1;
    while (s + run < total && all_lens[s + run] == l) run++;
    if (l == 0 && run >= 3) {
      int k = run > 138 ? 138 : run;
      if (k >= 11) { cl_symbols[ncl++] = (uint16_t)(18 | (k - 11) << 8); cl_freq[18]++; }
      else { cl_symbols[ncl++] = (uint16_t)(17 | (k - 3) << 8); cl_freq[17]++; }
      s += k;
    } else if (l != 0 && run >= 4) {
      int k = run - 1 > 6 ? 6 : run - 1;
      cl_symbols[ncl++] = (uint16_t)l; cl_freq[l]++;
      cl_symbols[ncl++] = (uint16_t)(16 | (k - 3) << 8); cl_freq[16]++;
      s += 1 + k;
    } else {
      cl_symbols[ncl++] = (uint16_t)l; cl_freq[l]++;
      s++;
    }
  }
  build_lengths(cl_freq, 19, cl_lens, 7);
  int hclen = 19;
  while (hclen > 4 && !cl_lens[CL_ORDER[hclen - 1]]) hclen--;
  build_codes(litlen_lens, 286, litlen_codes);
  build_codes(dist_lens, 30, dist_codes);
  build_codes(cl_lens, 19, cl_codes);

  op = header;
  bit_buf = 0;
  bit_count = 0;
  put_bits(1, 1); /* final block */
  put_bits(2, 2); /* dynamic Huffman */
  put_bits((uint32_t)(hlit - 257), 5);
  put_bits((uint32_t)(hdist - 1), 5);
  put_bits((uint32_t)(hclen - 4), 4);
  for (int k = 0; k < hclen; k++) put_bits(cl_lens[CL_ORDER[k]], 3);
  for (int k = 0; k < ncl; k++) {
    int s = cl_symbols[k] & 255, extra = cl_symbols[k] >> 8;
    put_bits(cl_codes[s], cl_lens[s]);
    if (s == 16) put_bits((uint32_t)extra, 2);
    else if (s == 17) put_bits((uint32_t)extra, 3);
    else if (s == 18) put_bits((uint32_t)extra, 7);
  }
  header_bytes = (int)(op - header);
  header_tail = bit_buf;
  header_tail_bits = bit_count;
  header_bits = header_bytes * 8 + bit_count;
  /* A length's code and extra bits as one field (at most 15 + 5 bits), as a distance's (15 + 13). */
  for (int len = 3; len <= MAX_MATCH; len++) {
    int lc = len_code[len];
    len_bits[len] = litlen_codes[257 + lc] | (uint32_t)(len - LEN_BASE[lc]) << litlen_lens[257 + lc];
    len_nbits[len] = (uint8_t)(litlen_lens[257 + lc] + LEN_EXTRA[lc]);
  }
  trees_ready = 1;
}

__attribute__((export_name("page_in"))) uint8_t *page_in(void) { return in; }
__attribute__((export_name("page_out"))) uint8_t *page_out(void) { return out; }

/*
 * Deflates in[0..n) (n <= PAGE) into out: the stream's length, or -1 when it would not be smaller
 * than the input (the caller stores that page as it is).
 */
__attribute__((export_name("page_deflate"))) int page_deflate(int n) {
  if (!tables_ready) init_tables();
  if (n < 4 || n > PAGE) return -1;
  const uint8_t *b = in;
  if (generation > 0x7fffffff - 4 * PAGE) { memset(head, 0, sizeof head); generation = 0; }
  generation += 2 * PAGE;
  memset(litlen_freq, 0, sizeof litlen_freq);
  memset(dist_freq, 0, sizeof dist_freq);

  /* Parse: greedy, one candidate per hash, matches of 4 bytes or more. */
  int count = 0, i = 0;
  while (i < n - 3) {
    uint32_t word = load32(b + i);
    uint32_t h = (word * 0x9E3779B1u) >> (32 - HASH_BITS);
    int cand = head[h] - generation;
    head[h] = generation + i;
    if (cand >= 0 && load32(b + cand) == word) {
      int len = 4, max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
      for (;;) {
        if (len + 8 <= max) {
          uint64_t diff = load64(b + cand + len) ^ load64(b + i + len);
          if (diff) { len += __builtin_ctzll(diff) >> 3; break; }
          len += 8;
        } else {
          while (len < max && b[cand + len] == b[i + len]) len++;
          break;
        }
      }
      int dist = i - cand;
      symbols[count++] = MATCH_FLAG | ((uint32_t)len << 16) | (uint32_t)dist;
      litlen_freq[257 + len_code[len]]++;
      dist_freq[dist_code[dist]]++;
      i += len;
    } else {
      litlen_freq[b[i]]++;
      symbols[count++] = b[i++];
    }
  }
  while (i < n) { litlen_freq[b[i]]++; symbols[count++] = b[i++]; }
  litlen_freq[256] = 1;

  /*
   * The kept trees, unless this page has a symbol they lack, or they cost it too much, or they
   * would not make it smaller. The size is exact, to give up before writing a stream no smaller
   * than the page.
   */
  uint32_t extra = 0;
  for (int c = 8; c < 28; c++) extra += litlen_freq[257 + c] * (uint32_t)LEN_EXTRA[c];
  for (int c = 4; c < 26; c++) extra += dist_freq[c] * (uint32_t)DIST_EXTRA[c];
  float entropy = entropy_bits(litlen_freq, 286) + entropy_bits(dist_freq, 30);
  uint32_t bits = trees_ready ? code_bits() : UINT32_MAX;
  if (bits == UINT32_MAX || (float)bits > (entropy + trees_redundancy * (float)count) * 1.02f + 32.0f ||
      (header_bits + bits + extra + 7) / 8 + 6 >= (uint32_t)n) {
    build_trees();
    bits = code_bits();
    trees_redundancy = ((float)bits - entropy) / (float)count;
    if ((header_bits + bits + extra + 7) / 8 + 6 >= (uint32_t)n) return -1;
  }

  op = out;
  /* zlib header: deflate, 8 KiB window (CINFO 5), no dictionary, check bits; what zlib writes at level 1. */
  *op++ = 0x58;
  *op++ = 0x09;
  memcpy(op, header, (unsigned)header_bytes);
  op += header_bytes;
  bit_buf = header_tail;
  bit_count = header_tail_bits;
  for (int k = 0; k < count; k++) {
    uint32_t v = symbols[k];
    if (v < 256) {
      put_bits(litlen_codes[v], litlen_lens[v]);
    } else {
      int len = (int)(v >> 16) & 511, dist = (int)(v & 0xffff), dc = dist_code[dist];
      put_bits(len_bits[len], len_nbits[len]);
      put_bits(dist_codes[dc] | (uint32_t)(dist - DIST_BASE[dc]) << dist_lens[dc], dist_lens[dc] + DIST_EXTRA[dc]);
    }
  }
  put_bits(litlen_codes[256], litlen_lens[256]);
  while (bit_count > 0) { *op++ = (uint8_t)bit_buf; bit_buf >>= 8; bit_count -= 8; }

  uint32_t adler = adler32(b, n);
  *op++ = (uint8_t)(adler >> 24);
  *op++ = (uint8_t)(adler >> 16);
  *op++ = (uint8_t)(adler >> 8);
  *op++ = (uint8_t)adler;
  return (int)(op - out);
}
