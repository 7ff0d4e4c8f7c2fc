#version 450
// Split-KV attention for few query rows per KV head (decoding), paged or contiguous K/V.
//
// A workgroup takes RP query rows that share one KV head (with ATTN_FLAG_PACK the rows of all
// the query heads of a group, so each K/V row is read once per group, not once per head) and one
// split, a range of split_len keys. Its invocations take keys in turn, PARTS invocations per key
// (each with D / PARTS of the dimensions, the score summed over them by subgroup shuffles), each
// with its own running max, sum and accumulator per row; at the end they are merged through
// shared memory (or, with VKATTN_SG_MERGE, where the host makes the workgroup exactly one
// subgroup, by subgroup reductions: no shared memory, no barriers, which a CPU driver runs as
// coroutine switches) and the split's O (normalised) and LSE go to scratch, where merge.comp
// combines the splits. With HEADS (the CPU drivers' decode shape) the invocations take WG KV
// heads instead, each every key of the split for its own rows, and nothing is merged across them.
// With ROWS (the VKATTN_ROWS modules: the CPU drivers' prefill shape) they take WG query rows
// (RP each) of one KV head, all the same key at a time: each invocation fetches every WG-th
// 16-byte word of the key's row, unpacks it, and subgroup shuffles hand its values to all of
// them, so a K/V word is fetched once per workgroup, not once per invocation.
// PARTS trades shuffles for fewer values per invocation: RP * D
// accumulators and query values per invocation spill out of registers (on a CPU driver, out of
// the L1 cache), which costs more than the shuffles.
//
// Every private array is indexed with constants only (the loops over rows and D are unrolled):
// lavapipe (Mesa 22.3) miscompiles dynamically indexed private arrays, and on GPUs they would
// spill to memory. K/V reads are per invocation (each its own key, or with HEADS its own head,
// or with ROWS its own words of the shared key), so nothing is redundant but, with ROWS, the
// last word of a row of fewer words than the workgroup has invocations.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if defined(VKATTN_SHUFFLE) || defined(VKATTN_ROWS)
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#ifdef VKATTN_SG_MERGE
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_vote : require
#endif
#include "storage.glsl"
// Precision "fast" (f16 storage, devices with shaderFloat16): the scores are dot products in f16
// arithmetic, each chunk of DSTEP (at most 16) products summed in f16 and the chunks in f32;
// the softmax and O += P V stay in f32 (O's unnormalised sums can pass f16's range).
#ifdef VKATTN_FAST
#ifdef VKATTN_F16_WORDS
#error the fast scores read f16 values as such (16-bit storage)
#endif
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define QV_T float16_t
#else
#define QV_T float
#endif

#define ATTN_DECODE
#include "attn_params.h"
#include "mask.glsl"

// The head size compiled for. Without VEC it may exceed the problem's head size HD (the host
// rounds element-loaded head sizes up to a multiple of 8, so one pipeline serves 1, 2, 3 and
// 7): the query's dimensions past HD are 0 and O's are never written, so every sum is the
// same as at HD (see elem_in_row).
layout(constant_id = ATTN_SPEC_D) const uint D = 64;
layout(constant_id = ATTN_SPEC_RP) const uint RP = 4;
// 1: every K/V row starts on 16 bytes and D fills whole 16-byte words, so rows are read in
// uvec4s (a CPU driver pays per load, not per byte: 4 or 8 elements for the price of one).
layout(constant_id = ATTN_SPEC_VEC) const uint VEC = 0;
// Invocations per key (1, 2, 4 or 8; a divisor of D, and of the subgroup size). Above 1 only in
// the module built with VKATTN_SHUFFLE (for devices with subgroup shuffles).
layout(constant_id = ATTN_SPEC_PARTS) const uint PARTS = 1;
layout(local_size_x_id = ATTN_SPEC_WG) in;
const uint WG = gl_WorkGroupSize.x;
// 1: the invocations take KV heads (heads WG * workgroup y + lid), each every key of the split,
// instead of keys of one head. Nothing is merged across invocations (each owns its rows), a
// workgroup of rows past q_lens is one per WG heads, and for K/V whose heads sit side by side
// within a key (paged, BSHD) one fetch across the workgroup reads neighbouring rows, not rows a
// whole key row of all heads apart. The host asks for it on CPU drivers (plan.c). Only with
// PARTS = 1.
layout(constant_id = ATTN_SPEC_HEADS) const uint HEADS = 0u;
#ifdef VKATTN_ROWS
// 1: the invocations take query rows and share each key (see the top); texel modules only,
// with VEC = 1, PARTS = 1, HEADS = 0 and the workgroup exactly one subgroup.
const uint ROWS = 1u;
#else
const uint ROWS = 0u;
#endif
// Each invocation has rows of its own (HEADS or ROWS): nothing to merge across invocations.
const bool OWN_ROWS = HEADS != 0u || ROWS != 0u;
const uint LR = ROWS != 0u ? WG : 1u; // rows side by side in the workgroup
const uint DL = D / PARTS;       // dimensions per invocation
const uint KPI = OWN_ROWS ? 1u : WG / PARTS; // keys side by side in the workgroup
// Keys per invocation and iteration: the running max, the rescale and (on a CPU driver) the
// accumulators' trip through memory are paid once for all of them; more keys, more registers.
layout(constant_id = ATTN_SPEC_KEYS) const uint KEYS = 2u;
// Which optional code the pipeline holds: ATTN_FEAT_PAGED (the page table walk) and
// ATTN_FEAT_EXTRA (softcap, the custom mask and ALiBi). A CPU driver runs both sides of every branch
// with the lanes masked, so code behind a flag the problem never sets costs as much as code
// that runs (softcap's tanh alone was a fifth of S2048 D64; the custom mask's word per key and
// row, a tenth of a paged decode). The host asks for none, PAGED, or both: at most three
// pipelines per shape.
layout(constant_id = ATTN_SPEC_FEAT) const uint FEAT = ATTN_FEAT_PAGED | ATTN_FEAT_EXTRA;
// Mesa's NIR unrolls no loop of more than 32 iterations ([[unroll]] or not); a longer loop over
// a private array leaves it indexed dynamically (a gather per access on a CPU driver, spills on
// GPUs). Loops over D are therefore nested, the inner one over DSTEP (a divisor of DL, at most
// 16) dimensions. (An odd DL keeps the long loop: correct, slower.)
const uint DSTEP = DL % 16u == 0u ? 16u : DL % 8u == 0u ? 8u : DL % 4u == 0u ? 4u : DL % 2u == 0u ? 2u : 1u;

layout(std430, binding = ATTN_BIND_Q) readonly buffer QBuf { ELEM_T q[]; };
layout(std430, binding = ATTN_BIND_Q) readonly buffer QWords { uvec4 q4[]; };
#ifdef VKATTN_TEXEL
// K/V as uniform texel buffers of 16-byte words (R32G32B32A32_UINT views): on a CPU driver a
// texel fetch is one vector gather, a storage buffer load a loop over the lanes. The host uses
// this module with VEC = 1 only; the element reads below are for completeness.
#extension GL_EXT_samplerless_texture_functions : require
layout(binding = ATTN_BIND_K) uniform utextureBuffer k_tex;
layout(binding = ATTN_BIND_V) uniform utextureBuffer v_tex;
#define K_WORD(i) texelFetch(k_tex, int(i))
#define V_WORD(i) texelFetch(v_tex, int(i))
#define K_ELEM(i) word_elem(K_WORD((i) / EPW), (i) % EPW)
#define V_ELEM(i) word_elem(V_WORD((i) / EPW), (i) % EPW)
#else
layout(std430, binding = ATTN_BIND_K) readonly buffer KBuf { ELEM_T k[]; };
layout(std430, binding = ATTN_BIND_V) readonly buffer VBuf { ELEM_T v[]; };
layout(std430, binding = ATTN_BIND_K) readonly buffer KWords { uvec4 k4[]; };
layout(std430, binding = ATTN_BIND_V) readonly buffer VWords { uvec4 v4[]; };
#define K_WORD(i) k4[i]
#define V_WORD(i) v4[i]
#ifdef VKATTN_FAST
#define K_ELEM(i) k[i]
#else
#define K_ELEM(i) AT(k, i)
#endif
#define V_ELEM(i) AT(v, i)
#endif
layout(std430, binding = ATTN_BIND_QLENS) readonly buffer QLens { uint q_lens[]; };
layout(std430, binding = ATTN_BIND_KVLENS) readonly buffer KvLens { uint kv_lens[]; };
layout(std430, binding = ATTN_BIND_MASK) readonly buffer MaskBuf { uint mask_words[]; };
layout(std430, binding = ATTN_BIND_PAGES) readonly buffer Pages { uint pages[]; };
layout(std430, binding = ATTN_BIND_SCRATCH) writeonly buffer Scratch { float scratch[]; };
layout(std430, binding = ATTN_BIND_O) OUT_ACCESS buffer OBuf { ELEM_T o[]; };
layout(std430, binding = ATTN_BIND_LSE) writeonly buffer LseBuf { float lse[]; };

#include "attn_common.glsl"

#ifdef VKATTN_F16
const uint EPW = 8u; // elements per uvec4
#else
const uint EPW = 4u;
#endif

#ifdef VKATTN_TEXEL
// On a CPU driver (the texel modules' only users) a texel fetch is a call, after which no
// vector register holds anything: the scores are computed one key at a time, so that only its
// RP accumulators wait in memory across each fetch, not KEYS * RP of them. (Fetching a whole
// iteration's words first, with no call between the products, was slower: LLVM then computed
// each score as one chain of D dependent adds.)
const uint KEY_OUTER = 1u;
#else
const uint KEY_OUTER = 0u;
#endif

// Element e of the 16-byte word w.
float word_elem(uvec4 w, uint e)
{
#ifdef VKATTN_F16
    uint x = e < 2u ? w.x : e < 4u ? w.y : e < 6u ? w.z : w.w;
    vec2 h = unpackHalf2x16(x);
    return (e & 1u) == 0u ? h.x : h.y;
#else
    return uintBitsToFloat(e == 0u ? w.x : e == 1u ? w.y : e == 2u ? w.z : w.w);
#endif
}

#ifdef VKATTN_FAST
// Element e of the 16-byte word w, as an f16 value (no conversion).
float16_t word_elem16(uvec4 w, uint e)
{
    uint x = e < 2u ? w.x : e < 4u ? w.y : e < 6u ? w.z : w.w;
    f16vec2 h = unpackFloat2x16(x);
    return (e & 1u) == 0u ? h.x : h.y;
}
#endif

// Whether a 16-byte word holds a NaN or an Inf: all exponent bits set. For f16, adding one to
// each exponent field carries into the sign bit exactly then (two halves per component).
bool word_bad(uvec4 w)
{
#ifdef VKATTN_F16
    const uvec4 t = ((w & 0x7c007c00u) + 0x04000400u) & 0x80008000u;
#else
    const uvec4 t = ((w & 0x7f800000u) + 0x00800000u) & 0x80000000u;
#endif
    return any(notEqual(t, uvec4(0u)));
}

// ROWS: the word of a key's row that invocation lid fetches for the workgroup when the row's
// word w (a multiple of WG) comes up: w + lid, held inside the row (a row of fewer words than
// the workgroup has invocations fetches its last word more than once).
uint row_word(uint w)
{
    return min(w + gl_LocalInvocationID.x, DL / EPW - 1u);
}

// ROWS: invocation src's value of x (src a constant after unrolling: a permute).
float lane_value(float x, uint src)
{
#ifdef VKATTN_ROWS
    return subgroupShuffle(x, src);
#else
    return x;
#endif
}

// ROWS: whether b holds in any invocation. (Shuffles from constant invocations are permutes
// on a CPU driver; a computed index, as subgroupShuffleXor's, is a loop over the lanes.)
bool lanes_any(bool b)
{
#ifdef VKATTN_ROWS
    const uint x = b ? 1u : 0u;
    uint any = 0u;
    [[unroll]] for (uint src = 0u; src < WG; ++src)
        any |= subgroupShuffle(x, src);
    return any != 0u;
#else
    return b;
#endif
}

shared float sRed[WG * (WG + 1u)]; // one WG x WG block of accumulators, padded rows
shared float sRow[3u * RP * WG];    // per row and invocation: max, sum, poisoned

// Where key j lives: with a paged K/V, the physical page (through the table) and the row in
// it; else batch item b and row j. j / page_size through a float reciprocal and a correction
// (a 32-bit division per lane is the costliest thing a CPU driver could do per key): below
// 2^24 keys the quotient is off by one page at most, beyond that (small pages) by a few.
void key_place(uint b, uint j, out uint outer, out uint row)
{
    if ((FEAT & ATTN_FEAT_PAGED) == 0u || (pc.flags & ATTN_FLAG_PAGED) == 0u) {
        outer = b;
        row = j;
        return;
    }
    const uint page_size = (pc.flags >> ATTN_PAGE_SHIFT) & ATTN_PAGE_MASK;
    uint pg = uint(float(j) * (1.0 / float(page_size)));
    int r = int(j) - int(pg * page_size);
    while (r < 0) {
        pg -= 1u;
        r += int(page_size);
    }
    while (r >= int(page_size)) {
        pg += 1u;
        r -= int(page_size);
    }
    row = uint(r);
    // A page number past the pool is invalid input; clamping keeps the read inside K/V.
    outer = min(pages[pc.pages_off + b * pc.pages_per_seq + pg], pc.num_pages - 1u);
}

// The problem's head size (D less the host's padding). Word loads are never padded (their rows
// are whole words already): there it is D, a constant, so the guards on it fold away.
uint head_size()
{
    return VEC != 0u ? D : D - (pc.flags >> ATTN_PAD_SHIFT);
}

// Element base + dl of a row (base is dimension dim0 of it), held inside the row's first HD
// elements: a padded dimension reads a real one, so no read leaves the row. Its query value is
// 0 (the products add nothing) and its accumulators are never written: the K and V values read
// there count for nothing, and a NaN or Inf among them is one of the row's own.
uint elem_in_row(uint base, uint dim0, uint dl, uint hd)
{
    return base + min(dim0 + dl, hd - 1u) - dim0;
}

// The invocation's state, shared by the stages of main below. Module scope, private to the
// invocation: once the stages are inlined a driver keeps it as it kept main's locals, and every
// array is still indexed with constants only (see the top).
uint hd;              // the problem's head size (head_size())
uint part;            // this invocation's dimensions: [part * DL, part * DL + DL)
uint slot;            // its place among an iteration's keys
bool direct;          // one split (ATTN_FLAG_DIRECT): the split fields hold O's layout
uint split;           // the workgroup's key range
uint hk;              // its KV head
uint b, bt;           // the batch item, and the batch index of the tensors (packed: none)
seq_rule sr;          // the item's lengths, starts and offset
int ks, ke;           // the keys [ks, ke) of the range that the rows may see
uint ri[RP], rh[RP];  // each row's query index and query head
bool rvalid[RP];
QV_T qv[RP * DL];     // the rows' queries, scaled
float acc[RP * DL];   // O's rows, unnormalised
float m[RP], l[RP];   // running max (log2 units) and sum per row
bool poisoned[RP];
bool softcap, custom, biased;
float slope[RP];      // ALiBi's slope per row
// One iteration's keys (KEYS of them, KPI apart): V's element offsets, their indices, whether
// they are in range (a key past the range reads key j again and counts for nothing), the
// scores, each row's rescale, the probabilities and which scores count.
uint va[KEYS];
int jk[KEYS];
bool live[KEYS];
float s[KEYS * RP];
float alpha[RP], p[KEYS * RP];
bool vis[KEYS * RP];
// The merged rows: the common max, this invocation's factor, the sum and the NaN verdict.
float mx[RP], f[RP], lsum[RP];
bool bad[RP];

// Stage 1: which rows the workgroup takes (and this invocation of them), and the keys they see.
void place_rows()
{
    const uint lid = gl_LocalInvocationID.x;
    hd = head_size();
    part = lid % PARTS;
    slot = OWN_ROWS ? 0u : lid / PARTS;
    // One split (ATTN_FLAG_DIRECT): the split fields hold O's layout, and every key is in range.
    direct = (pc.flags & ATTN_FLAG_DIRECT) != 0u;
    const uint n_splits = direct ? 1u : pc.n_splits;
    split = gl_WorkGroupID.x % n_splits;
    // Row blocks in zigzag order (0, last, 1, last - 1, ...): under a causal mask a block's
    // cost grows with its index, and a CPU driver (lavapipe) hands each of its threads one
    // contiguous range of workgroups, so in plain order one thread got the costly half.
    const uint nblk = gl_NumWorkGroups.x / n_splits;
    const uint zz = gl_WorkGroupID.x / n_splits;
    // (Packed batches: zigzag within each item instead, see varlen_block.)
    const uint blk = (pc.flags & ATTN_FLAG_VARLEN) != 0u ? zz
                     : (zz & 1u) == 0u ? zz >> 1u : nblk - 1u - (zz >> 1u);
    // A head past the last (HEADS, a partial workgroup) reads the last one and writes nothing.
    const uint n_kv = PC_HQ / PC_GROUP;
    const uint hk_any = HEADS != 0u ? gl_WorkGroupID.y * WG + lid : gl_WorkGroupID.y;
    const bool head_ok = hk_any < n_kv;
    hk = head_ok ? hk_any : n_kv - 1u;
    const bool pack = (pc.flags & ATTN_FLAG_PACK) != 0u;
    const bool varlen = (pc.flags & ATTN_FLAG_VARLEN) != 0u;
    const uint rl = ROWS != 0u ? lid : 0u; // this invocation's place in each row group

    // The block's slots (RP * LR; invocation rl has slots r * LR + rl): with GQA packing, slot p
    // of the group is query i = p / group of head g = p % group; else the slots are consecutive
    // queries of one head, the blocks of head g of the group after those of head g - 1. Either
    // way i never decreases along the block. Packed batches lay each head's blocks out item by
    // item (varlen_block); the block's slots end at its item's end (v1).
    const uint unit = pack ? PC_GROUP : 1u, bs = RP * LR;
    const uint per_head = (pc.Sq * unit + bs - 1u) / bs + (varlen ? pc.qlens_off : 0u);
    const uint gh = pack ? 0u : blk / per_head; // the group's head (without packing)
    const uint lb = pack ? blk : blk % per_head;
    b = gl_WorkGroupID.z;
    uint v0 = lb * bs, v1 = 0xffffffffu;
    if (varlen)
        varlen_block(lb, unit, bs, b, v0, v1);
    bt = varlen ? 0u : b;

    sr = seq_rule_for(b);

    int ilo = int(pc.Sq), ihi = -1;
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        const uint pos = v0 + r * LR + rl;
        const uint i = pack ? pos / PC_GROUP : pos;
        const uint g = pack ? pos % PC_GROUP : gh;
        rvalid[r] = pos < v1 && i < pc.Sq && g < PC_GROUP && head_ok;
        ri[r] = rvalid[r] ? i : 0u;
        rh[r] = hk * PC_GROUP + (rvalid[r] ? g : 0u);
        if (rvalid[r]) {
            ilo = min(ilo, int(i));
            ihi = max(ihi, int(i));
        }
    }
#ifdef VKATTN_ROWS
    // Every invocation walks the same keys (the shuffles need all of them): the workgroup's.
    ilo = subgroupMin(ilo);
    ihi = subgroupMax(ihi);
#endif
    int j0, j1;
    mask_key_range(ilo, ihi + 1, sr, pc.flags, pc.wl, pc.wr, j0, j1);
    ks = direct ? j0 : max(j0, int(split * pc.split_len));
    ke = direct ? min(j1, int(pc.Skv)) : min(j1, int(min((split + 1u) * pc.split_len, pc.Skv)));
}

// Stage 2: the rows' queries.
void load_q()
{
    // Q is scaled once here (scale * log2(e), folded so the softmax can use exp2).
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        const uint qb = pc.q_off + bt * pc.q_sb + rh[r] * pc.q_sh + ri[r] * pc.q_ss + part * DL;
        const bool row_live =
            rvalid[r] && int(ri[r]) >= sr.q0 && int(ri[r]) < sr.q0 + sr.ql && ks < ke;
        // (With VEC, Q rows are whole words too: a quarter or an eighth of the loads, which a
        // CPU driver makes one lane at a time. DSTEP is then a multiple of EPW.)
        [[unroll]] for (uint dh = 0u; dh < DL; dh += DSTEP) {
            if (VEC != 0u) {
                [[unroll]] for (uint dw = 0u; dw < DSTEP; dw += EPW) {
                    const uvec4 w = q4[(qb + dh + dw) / EPW];
                    [[unroll]] for (uint e = 0u; e < EPW; ++e)
                        qv[r * DL + dh + dw + e] = QV_T(row_live ? scaled(word_elem(w, e)) : 0.0);
                }
            } else {
                [[unroll]] for (uint dl = 0u; dl < DSTEP; ++dl) {
                    const float x = AT(q, elem_in_row(qb, part * DL, dh + dl, hd));
                    qv[r * DL + dh + dl] =
                        QV_T(row_live && part * DL + dh + dl < hd ? scaled(x) : 0.0);
                }
            }
        }
    }
}

// Stage 3: the running softmax's state, and which optional code runs.
void init_rows()
{
    [[unroll]] for (uint eh = 0u; eh < RP * DL; eh += DSTEP)
        [[unroll]] for (uint el = 0u; el < DSTEP; ++el)
            acc[eh + el] = 0.0;
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        m[r] = NEG_INF;
        l[r] = 0.0;
        poisoned[r] = false;
    }
    softcap = (FEAT & ATTN_FEAT_EXTRA) != 0u && (pc.flags & ATTN_FLAG_SOFTCAP) != 0u;
    custom = (FEAT & ATTN_FEAT_EXTRA) != 0u && (pc.flags & ATTN_FLAG_MASK) != 0u;
    // ALiBi's slope per row (log2 units): EXTRA pipelines only, like softcap (a CPU driver pays
    // for the bias of every score when the code is there).
    biased = (FEAT & ATTN_FEAT_EXTRA) != 0u && aux_on(ATTN_AUX_ALIBI);
    [[unroll]] for (uint r = 0u; r < RP; ++r)
        slope[r] = biased ? alibi_slope(b, rh[r]) : 0.0;
}

// Stage 4a: the keys of the iteration at j, and their scores (Q K^T).
void key_scores(int j)
{
    uint ka[KEYS];
    [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
        const int jt = j + int(t * KPI);
        live[t] = jt < ke;
        jk[t] = live[t] ? jt : j;
        uint outer, row;
        key_place(bt, uint(jk[t]), outer, row); // bt (or the page) is the outermost index
        ka[t] = pc.k_off + outer * pc.k_sb + hk * pc.k_sh + row * pc.k_ss + part * DL;
        va[t] = pc.v_off + outer * pc.v_sb + hk * pc.v_sh + row * pc.v_ss + part * DL;
    }
    [[unroll]] for (uint e = 0u; e < KEYS * RP; ++e)
        s[e] = 0.0;
    uvec4 kw[KEYS];
    float kmf[KEYS * EPW]; // ROWS: this invocation's words, unpacked
    bool kbad[KEYS]; // a NaN or Inf in the key (SPEC 3: it poisons the rows that see it)
    [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
        kw[t] = uvec4(0u);
        [[unroll]] for (uint e = 0u; e < EPW; ++e)
            kmf[t * EPW + e] = 0.0;
        kbad[t] = false;
    }
    // (e is a constant after unrolling, so word_elem folds to one component.) With
    // KEY_OUTER one key (tt) at a time, else every key at each dimension.
    [[unroll]] for (uint tt = 0u; tt < (KEY_OUTER != 0u ? KEYS : 1u); ++tt)
    [[unroll]] for (uint dh = 0u; dh < DL; dh += DSTEP) {
#ifdef VKATTN_FAST
    float16_t ps[KEYS * RP];
    [[unroll]] for (uint e = 0u; e < KEYS * RP; ++e)
        ps[e] = float16_t(0.0);
#endif
    [[unroll]] for (uint dl = 0u; dl < DSTEP; ++dl) {
        const uint d = dh + dl;
        // (Constant bounds: NIR unrolls no loop whose bounds come from an outer loop.)
        [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
            if (KEY_OUTER != 0u && t != tt)
                continue;
            if (VEC != 0u && d % EPW == 0u) {
                if (ROWS != 0u) {
                    // Each invocation checks and unpacks the words it fetched (once for
                    // all: f16 is converted before it is shared); the key's verdict is
                    // pooled below.
                    if ((d / EPW) % WG == 0u) {
                        const uvec4 w = K_WORD(ka[t] / EPW + row_word(d / EPW));
                        kbad[t] = kbad[t] || word_bad(w);
                        [[unroll]] for (uint e = 0u; e < EPW; ++e)
                            kmf[t * EPW + e] = word_elem(w, e);
                    }
                } else {
                    kw[t] = K_WORD(ka[t] / EPW + d / EPW);
                    kbad[t] = kbad[t] || word_bad(kw[t]);
                }
            }
            // (A padded dimension's query value is 0: its product adds nothing.)
            const uint ke = VEC != 0u ? 0u : elem_in_row(ka[t], part * DL, d, hd);
#ifdef VKATTN_FAST
            float16_t x = VEC != 0u ? word_elem16(kw[t], d % EPW) : K_ELEM(ke);
            if (VEC == 0u)
                kbad[t] = kbad[t] || isnan(x) || isinf(x);
            [[unroll]] for (uint r = 0u; r < RP; ++r)
                ps[t * RP + r] = fma(qv[r * DL + d], x, ps[t * RP + r]);
#else
            float x = ROWS != 0u ? lane_value(kmf[t * EPW + d % EPW], (d / EPW) % WG)
                      : VEC != 0u ? word_elem(kw[t], d % EPW) : K_ELEM(ke);
            if (VEC == 0u)
                kbad[t] = kbad[t] || !(abs(x) <= FLT_MAX);
            [[unroll]] for (uint r = 0u; r < RP; ++r)
                s[t * RP + r] = fma(qv[r * DL + d], x, s[t * RP + r]);
#endif
        }
    }
#ifdef VKATTN_FAST
    [[unroll]] for (uint e = 0u; e < KEYS * RP; ++e)
        s[e] += float(ps[e]);
#endif
    }
    if (ROWS != 0u)
        [[unroll]] for (uint t = 0u; t < KEYS; ++t)
            kbad[t] = lanes_any(kbad[t]);
    // The score of a non-finite key is NaN in every part, then summed over the parts.
    [[unroll]] for (uint e = 0u; e < KEYS * RP; ++e) {
        s[e] = kbad[e / RP] ? F_NAN : s[e];
#ifdef VKATTN_SHUFFLE
        [[unroll]] for (uint o = 1u; o < PARTS; o *= 2u)
            s[e] += subgroupShuffleXor(s[e], o);
#endif
    }
}

// Stage 4b: the online softmax over those scores.
void softmax_step()
{
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        float mn = m[r];
        [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
            const uint e = t * RP + r;
            vis[e] = live[t] && rvalid[r] &&
                     mask_visible(int(ri[r]), jk[t], sr, pc.flags, pc.wl, pc.wr) &&
                     (!custom || custom_mask(b, rh[r], ri[r], uint(jk[t])));
            // A NaN score (a non-finite q or k, or inf - inf) poisons the row and is dropped.
            const bool bad = isnan(s[e]);
            if (vis[e] && bad)
                poisoned[r] = true;
            float sc = clamp(s[e], -FLT_MAX, FLT_MAX);
            if (softcap)
                sc = pc.softcap * LOG2E * tanh(clamp(sc / pc.softcap, -10.0, 10.0));
            if (biased)
                sc = alibi_bias(sc, slope[r], int(ri[r]), jk[t], sr);
            s[e] = vis[e] && !bad ? sc : NEG_INF;
            mn = max(mn, s[e]);
        }
        alpha[r] = mn == NEG_INF ? 1.0 : exp2(m[r] - mn);
        l[r] *= alpha[r];
        [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
            const uint e = t * RP + r;
            p[e] = s[e] == NEG_INF ? 0.0 : exp2(s[e] - mn);
            l[r] += p[e];
        }
        m[r] = mn;
    }
}

// Stage 4c: O += P V.
void accumulate_pv()
{
    uvec4 vw[KEYS];
    float vmf[KEYS * EPW]; // ROWS: this invocation's words, unpacked
    [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
        vw[t] = uvec4(0u);
        [[unroll]] for (uint e = 0u; e < EPW; ++e)
            vmf[t * EPW + e] = 0.0;
    }
    // A non-finite v is kept out of the sums (0 * NaN would reach rows that do not see this
    // key) and poisons, below, the rows that do (whose results are then NaN whatever the
    // rest of the word was, so a word is zeroed whole).
    bool vbad[KEYS];
    [[unroll]] for (uint t = 0u; t < KEYS; ++t)
        vbad[t] = false;
    [[unroll]] for (uint dh = 0u; dh < DL; dh += DSTEP)
    [[unroll]] for (uint dl = 0u; dl < DSTEP; ++dl) {
        const uint d = dh + dl;
        float x[KEYS];
        [[unroll]] for (uint t = 0u; t < KEYS; ++t) {
            if (VEC != 0u && d % EPW == 0u) {
                if (ROWS != 0u) {
                    // As for K: zeroed where fetched, the verdict pooled below.
                    if ((d / EPW) % WG == 0u) {
                        uvec4 w = V_WORD(va[t] / EPW + row_word(d / EPW));
                        const bool bad = word_bad(w);
                        vbad[t] = vbad[t] || bad;
                        w = bad ? uvec4(0u) : w;
                        [[unroll]] for (uint e = 0u; e < EPW; ++e)
                            vmf[t * EPW + e] = word_elem(w, e);
                    }
                } else {
                    vw[t] = V_WORD(va[t] / EPW + d / EPW);
                    const bool bad = word_bad(vw[t]);
                    vbad[t] = vbad[t] || bad;
                    vw[t] = bad ? uvec4(0u) : vw[t];
                }
            }
            x[t] = ROWS != 0u ? lane_value(vmf[t * EPW + d % EPW], (d / EPW) % WG)
                   : VEC != 0u ? word_elem(vw[t], d % EPW)
                   : V_ELEM(elem_in_row(va[t], part * DL, d, hd)); // (padded: not written)
            if (VEC == 0u) {
                const bool bad = !(abs(x[t]) <= FLT_MAX);
                vbad[t] = vbad[t] || bad;
                x[t] = bad ? 0.0 : x[t];
            }
        }
        [[unroll]] for (uint r = 0u; r < RP; ++r) {
            float a = acc[r * DL + d] * alpha[r];
            [[unroll]] for (uint t = 0u; t < KEYS; ++t)
                a = fma(p[t * RP + r], x[t], a);
            acc[r * DL + d] = a;
        }
    }
    if (ROWS != 0u)
        [[unroll]] for (uint t = 0u; t < KEYS; ++t)
            vbad[t] = lanes_any(vbad[t]);
    [[unroll]] for (uint e = 0u; e < KEYS * RP; ++e)
        if (vis[e] && vbad[e / RP])
            poisoned[e % RP] = true;
}

// Stage 5: merge the invocations: the common max per row, then sums of the rescaled partials
// (with HEADS or ROWS each invocation has its own rows: nothing to merge).
void merge_invocations()
{
    const uint lid = gl_LocalInvocationID.x;
    if (OWN_ROWS) {
        [[unroll]] for (uint r = 0u; r < RP; ++r) {
            mx[r] = m[r];
            f[r] = 1.0;
            lsum[r] = l[r];
            bad[r] = poisoned[r];
        }
    } else {
#ifdef VKATTN_SG_MERGE
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        mx[r] = subgroupMax(m[r]);
        f[r] = m[r] == NEG_INF ? 0.0 : exp2(m[r] - mx[r]);
        lsum[r] = subgroupAdd(l[r] * f[r]);
        bad[r] = subgroupAny(poisoned[r]);
    }
#else
    [[unroll]] for (uint r = 0u; r < RP; ++r)
        sRow[r * WG + lid] = m[r];
    barrier();
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        mx[r] = NEG_INF;
        for (uint w = 0u; w < WG; ++w)
            mx[r] = max(mx[r], sRow[r * WG + w]);
        f[r] = m[r] == NEG_INF ? 0.0 : exp2(m[r] - mx[r]);
    }
    barrier();
    // The PARTS invocations of a key hold the same sums: one of them counts.
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        sRow[r * WG + lid] = part == 0u ? l[r] * f[r] : 0.0;
        sRow[(RP + r) * WG + lid] = poisoned[r] ? 1.0 : 0.0;
    }
    barrier();
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        lsum[r] = 0.0;
        float pz = 0.0;
        for (uint w = 0u; w < WG; ++w) {
            lsum[r] += sRow[r * WG + w];
            pz += sRow[(RP + r) * WG + w];
        }
        bad[r] = pz > 0.0;
    }
#endif
    }
}

// Stage 6: this split's rows of O and LSE (one split, ATTN_FLAG_DIRECT: the final O and LSE,
// as the merge would have made them).
void write_rows()
{
    const uint lid = gl_LocalInvocationID.x;
    const uint rows = gl_NumWorkGroups.z * PC_HQ * pc.Sq;
    [[unroll]] for (uint r = 0u; r < RP; ++r) {
        const uint row = (bt * PC_HQ + rh[r]) * pc.Sq + ri[r];
        const uint obase = direct ? pc.scratch_off + bt * pc.n_splits + rh[r] * pc.split_len +
                                        ri[r] * pc.o_ss
                                  : pc.scratch_off + (split * rows + row) * hd;
        // The sink joins the softmax once per row: in the first split (the merge pass weighs
        // each split by its LSE, so the sink then counts once in the sum).
        const float fs = split == 0u ? sink_join(rh[r], mx[r], lsum[r]) : 1.0;
        const bool seen = lsum[r] > 0.0;
        const float inv = seen ? fs / lsum[r] : 0.0;
        if (OWN_ROWS) {
            if (rvalid[r]) {
                [[unroll]] for (uint dh = 0u; dh < D; dh += DSTEP)
                    [[unroll]] for (uint dl = 0u; dl < DSTEP; ++dl) {
                        if (dh + dl >= hd)
                            continue;
                        const float x = bad[r] ? F_NAN : acc[r * DL + dh + dl] * inv;
                        if (direct)
                            PUT(o, obase + dh + dl, x);
                        else
                            scratch[obase + dh + dl] = x;
                    }
            }
        } else {
        // Column c0 + e of every invocation's accumulators, summed over the invocations of the
        // same part, is dimension part * DL + c0 + e of the output.
#ifdef VKATTN_SG_MERGE
        [[unroll]] for (uint c0 = 0u; c0 < DL; c0 += WG) {
            float mine = 0.0;
            [[unroll]] for (uint e = 0u; e < WG; ++e)
                if (c0 + e < DL) {
                    const float sum = subgroupAdd(acc[r * DL + min(c0 + e, DL - 1u)] * f[r]);
                    mine = lid == e ? sum : mine;
                }
            if (rvalid[r] && c0 + lid < DL && c0 + lid < hd) {
                const float x = bad[r] ? F_NAN : mine * inv;
                if (direct)
                    PUT(o, obase + c0 + lid, x);
                else
                    scratch[obase + c0 + lid] = x;
            }
        }
#else
        [[unroll]] for (uint c0 = 0u; c0 < DL; c0 += WG) {
            barrier();
            [[unroll]] for (uint e = 0u; e < WG; ++e)
                if (c0 + e < DL)
                    sRed[lid * (WG + 1u) + e] = acc[r * DL + min(c0 + e, DL - 1u)] * f[r];
            barrier();
            if (rvalid[r] && c0 + lid < DL) {
                [[unroll]] for (uint pt = 0u; pt < PARTS; ++pt) {
                    if (pt * DL + c0 + lid >= hd)
                        continue;
                    float sum = 0.0;
                    for (uint w = pt; w < WG; w += PARTS)
                        sum += sRed[w * (WG + 1u) + lid];
                    const float x = bad[r] ? F_NAN : sum * inv;
                    if (direct)
                        PUT(o, obase + pt * DL + c0 + lid, x);
                    else
                        scratch[obase + pt * DL + c0 + lid] = x;
                }
            }
        }
#endif
        }
        const float ls = bad[r] ? F_NAN : seen ? (mx[r] + log2(lsum[r])) * LN2 : NEG_INF;
        if (rvalid[r] && (OWN_ROWS || lid == 0u)) {
            if (!direct)
                scratch[pc.scratch_off + pc.n_splits * rows * hd + split * rows + row] = ls;
            else if ((pc.flags & ATTN_FLAG_LSE) != 0u)
                lse[pc.lse_off + row] = ls;
        }
    }
}

void main()
{
    place_rows();
    load_q();
    init_rows();
    // All PARTS invocations of a key run the same iterations, so the shuffles below always
    // find their partners active. Each iteration takes KEYS keys (KPI apart): the running max,
    // the rescale of the accumulators and their trip through memory (they do not fit in
    // registers on a CPU driver) are paid once for all of them.
    for (int j = ks + int(slot); j < ke; j += int(KEYS * KPI)) {
        key_scores(j);
        softmax_step();
        accumulate_pv();
    }
    merge_invocations();
    write_rows();
}
