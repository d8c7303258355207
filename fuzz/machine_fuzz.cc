// machine_fuzz — random instruction programs against a small Machine (32 EPC
// pages, 2 logical cores, a fixed root secret), checking the machine's
// contract (machine.h) after every step:
//
//   * every failure is an SGX error (kSgxError) or a fault (kFault); the only
//     exceptions are kUnimplemented from EWB of a SECS page and
//     kFailedPrecondition from CopyOnWrite at a page that is not shared;
//   * FreePageCount() + the number of valid EPCM entries == epc_pages();
//   * every valid enclave page belongs to exactly one live enclave (its owner is
//     a valid SECS whose ELRANGE holds the page's address, and no two valid
//     pages of one enclave share an address), and what a core inside an
//     enclave translates an address to is that enclave's own page at that
//     address or a PT_SREG page of another enclave (a mapped plugin);
//   * a core in enclave mode runs on a valid TCS of that enclave;
//   * the bytes of PT_SREG pages never change after their plugin's EINIT
//     (snapshots taken at EINIT, compared wherever the page is resident).
// A violation prints the step and traps, so libFuzzer keeps the input.
//
// Program encoding: the input is a sequence of steps; each step is an opcode
// byte (mod kOpCount, see enum Op) followed by that operation's argument bytes
// (see Harness::Step); a missing byte reads as 0. Argument kinds:
//   core   b % 3 (core 2 does not exist), 0xff -> core 0xffffffff
//   page   b < 0x80: EPC page b % (epc_pages + 2) (the last two are outside the
//          EPC); b >= 0x80: the ((b & 0x7f) mod n)-th page of the n pages that
//          fit the operand (free pages for EADD/EAUG/EPA/ELDU targets, valid
//          SECS/TCS/VA/any pages otherwise)
//   addr   2 bytes: base kBases[b0 & 0xf] (0xf: 8 raw bytes follow) plus
//          (b1 & 0x1f) pages, plus kMisalign[(b0 >> 4) & 7] if b0 & 0x80;
//          byte addresses (EEXTEND, Read, Write, Translate) add a third byte:
//          (b2 & 0xf) 256-byte chunks, plus 0x80 if b2 & 0x10
//   secinfo 2 bytes: FLAGS = b0 | b1 << 8 (b1 = 0xff also sets reserved bit 20)
// Enclave templates (a host, two plugins, a tiny host) have pre-signed
// SIGSTRUCTs (RSA key generated once in LLVMFuzzerInitialize), and EADD can
// take the template's page contents, so EINIT can succeed from single steps
// too; the Build step builds a whole template (ECREATE, EADD, EEXTEND, EINIT).
//
// To read an input: MACHINE_FUZZ_TRACE=1 build-asan/fuzz/machine_fuzz INPUT
// prints every instruction and its result.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/rsa.h"
#include "image/sgxs.h"
#include "image/signer.h"
#include "machine/machine.h"

namespace {

using namespace confide;           // NOLINT
using namespace confide::machine;  // NOLINT

constexpr uint32_t kEpcPages = 32;
constexpr uint32_t kCores = 2;
constexpr size_t kMaxSteps = 400;
constexpr size_t kMaxBlobs = 8;

enum Op : uint8_t {
  kOpEcreate,
  kOpEadd,
  kOpEextend,
  kOpEinit,
  kOpEremove,
  kOpEaug,
  kOpEaccept,
  kOpEacceptcopy,
  kOpEmodpr,
  kOpEmodpe,
  kOpEmodt,
  kOpEpa,
  kOpEblock,
  kOpEtrack,
  kOpEwb,
  kOpEldu,
  kOpEldb,
  kOpEreport,
  kOpEgetkey,
  kOpEenter,
  kOpEexit,
  kOpAex,
  kOpEresume,
  kOpEmap,
  kOpEunmap,
  kOpRead,
  kOpWrite,
  kOpCopyOnWrite,
  kOpTranslate,
  kOpBuild,
  kOpCorruptBlob,
  kOpCount,
};

const char* const kOpNames[kOpCount] = {
    "ECREATE",     "EADD",    "EEXTEND",    "EINIT",   "EREMOVE", "EAUG",   "EACCEPT",
    "EACCEPTCOPY", "EMODPR",  "EMODPE",     "EMODT",   "EPA",     "EBLOCK", "ETRACK",
    "EWB",         "ELDU",    "ELDB",       "EREPORT", "EGETKEY", "EENTER", "EEXIT",
    "AEX",         "ERESUME", "EMAP",       "EUNMAP",  "Read",    "Write",  "CopyOnWrite",
    "Translate",   "Build",   "CorruptBlob"};

constexpr std::array<uint64_t, 11> kBases = {
    0x100000,  // 0: host T0 (1 MiB)
    0x200000,  // 1: host T0, second place
    0x180000,  // 2: plugin T1 inside host@0x100000
    0x182000,  // 3: plugin T1, next to 2
    0x184000,  // 4: plugin T2 inside host@0x100000
    0x1c0000,  // 5: plugin T2 elsewhere inside host@0x100000
    0x400000,  // 6: outside every host
    0x10000,   // 7: tiny host T3
    0x12000,   // 8: tiny host T3, second place
    0x0,       // 9
    0x1ff000,  // 10: last page of host@0x100000
};
constexpr std::array<uint64_t, 8> kMisalign = {0x1,   0x80,  0x100,     0x7ff,
                                               0x800, 0xfff, 0x1000000, 0x8000000000000000};

[[noreturn]] void Violation(size_t step, int op, const std::string& what) {
  std::fprintf(stderr, "machine_fuzz: step %zu (%s): invariant violated: %s\n", step,
               op >= 0 && op < kOpCount ? kOpNames[op] : "-", what.c_str());
  __builtin_trap();
}

std::string Pg(EpcPage p) { return "EPC page " + std::to_string(p); }

// ---- Templates: known small enclaves with pre-computed SIGSTRUCTs --------

struct PageSpec {
  uint64_t offset = 0;
  uint64_t flags = 0;  // SECINFO.FLAGS as EADDed
  std::array<uint8_t, kPageSize> data{};
  bool measured = true;  // all 16 chunks EEXTENDed
};

struct Template {
  const char* name;
  uint64_t size = 0;
  uint32_t ssa_frame_size = 1;
  std::vector<size_t> bases;  // indexes into kBases
  std::vector<PageSpec> pages;
  crypto::Sha256Digest mr_enclave{};
};

constexpr Attributes kAttributes{attr::kMode64Bit, 0x3};

struct Globals {
  std::vector<Template> templates;
  std::vector<Sigstruct> sigs;  // valid ones first (one per template), then corrupted ones
  std::array<uint8_t, kPageSize> tcs_host{};
  std::array<uint8_t, kPageSize> tcs_tiny{};
  std::array<uint8_t, kPageSize> tcs_bad{};
};
Globals* g = nullptr;
// MACHINE_FUZZ_TRACE=1 prints every instruction's result (to read a crash input).
bool g_trace = false;
MachineConfig* g_config = nullptr;

std::array<uint8_t, kPageSize> Pattern(uint8_t seed) {
  std::array<uint8_t, kPageSize> p;
  for (size_t i = 0; i < kPageSize; ++i) p[i] = static_cast<uint8_t>(seed * 131 + i * 7 + (i >> 8));
  return p;
}

PageSpec Page(uint64_t offset, PageType type, uint64_t perms, std::array<uint8_t, kPageSize> data,
              bool measured = true) {
  PageSpec p;
  p.offset = offset;
  p.flags = SecInfo::Make(type, perms).flags;
  p.data = data;
  p.measured = measured;
  return p;
}

crypto::Sha256Digest Measure(const Template& t) {
  image::SgxsImage img;
  img.ssa_frame_size = t.ssa_frame_size;
  img.size = t.size;
  for (const PageSpec& p : t.pages) {
    image::SgxsPage sp;
    sp.offset = p.offset;
    sp.secinfo = SecInfo{p.flags};
    sp.data = p.data;
    sp.measured_chunks = p.measured ? image::kAllChunks : 0;
    img.pages.push_back(sp);
  }
  return image::MeasureSgxs(img);
}

void Die(const char* what, const Status& s) {
  std::fprintf(stderr, "machine_fuzz: setup failed: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

Sigstruct Sign(const crypto::Rsa3072PrivateKey& key, const crypto::Sha256Digest& hash,
               Attributes attributes = kAttributes, uint32_t misc_select = 0) {
  image::SigningParams p;
  p.enclave_hash = hash;
  p.attributes = attributes;
  p.misc_select = misc_select;
  p.date = 0x20240101;
  p.isv_prod_id = 7;
  p.isv_svn = 3;
  auto s = image::SignEnclave(key, p);
  if (!s.ok()) Die("SignEnclave", s.status());
  return *s;
}

void BuildGlobals() {
  g = new Globals;
  Tcs host_tcs;
  host_tcs.ossa = 0x2000;
  host_tcs.nssa = 2;
  host_tcs.oentry = 0x3000;
  g->tcs_host = host_tcs.Serialize();
  Tcs tiny_tcs;
  tiny_tcs.ossa = 0x1000;
  tiny_tcs.nssa = 1;
  g->tcs_tiny = tiny_tcs.Serialize();
  g->tcs_bad = host_tcs.Serialize();
  g->tcs_bad[0] = 1;  // TCS.STATE != 0: EADD #GP

  const std::array<uint8_t, kPageSize> zero{};
  Template host{"host", 0x100000, 1, {0, 1}, {}, {}};
  host.pages = {Page(0x0000, PageType::kReg, secinfo::kR | secinfo::kW, Pattern(1)),
                Page(0x1000, PageType::kTcs, 0, g->tcs_host),
                Page(0x2000, PageType::kReg, secinfo::kR | secinfo::kW, zero),
                Page(0x3000, PageType::kReg, secinfo::kR | secinfo::kX, Pattern(2)),
                Page(0x4000, PageType::kReg, secinfo::kR, Pattern(3))};
  Template p1{"plugin1", 0x2000, 1, {2, 3, 0, 6}, {}, {}};
  p1.pages = {Page(0x0000, PageType::kSreg, secinfo::kR, Pattern(4)),
              // W is masked by EADD for PT_SREG but measured as given.
              Page(0x1000, PageType::kSreg, secinfo::kRwx, Pattern(5))};
  Template p2{"plugin2", 0x4000, 1, {4, 5, 1, 10}, {}, {}};
  p2.pages = {Page(0x0000, PageType::kSreg, secinfo::kR | secinfo::kX, Pattern(6)),
              Page(0x2000, PageType::kSreg, secinfo::kR, Pattern(7), /*measured=*/false)};
  Template tiny{"tiny", 0x2000, 1, {7, 8}, {}, {}};
  tiny.pages = {Page(0x0000, PageType::kTcs, 0, g->tcs_tiny),
                Page(0x1000, PageType::kReg, secinfo::kR | secinfo::kW, Pattern(8))};
  g->templates = {host, p1, p2, tiny};
  for (Template& t : g->templates) t.mr_enclave = Measure(t);

  // RSA-3072 key generation takes a while: once per process.
  auto key = crypto::Rsa3072PrivateKey::Generate();
  if (!key.ok()) Die("RSA key generation", key.status());
  for (const Template& t : g->templates) g->sigs.push_back(Sign(*key, t.mr_enclave));
  const Template& h = g->templates[0];
  // Corrupted variants.
  g->sigs.push_back(Sign(*key, h.mr_enclave, {attr::kMode64Bit | attr::kDebug, 0x3}));  // attrs
  g->sigs.push_back(Sign(*key, g->templates[3].mr_enclave, kAttributes, /*misc_select=*/1));
  g->sigs.push_back(Sign(*key, g->templates[2].mr_enclave, {0, 0x3}));  // a 32-bit enclave
  crypto::Sha256Digest wrong = g->templates[1].mr_enclave;
  wrong[31] ^= 1;
  g->sigs.push_back(Sign(*key, wrong));  // validly signed, wrong measurement
  Sigstruct s = g->sigs[0];
  s.enclave_hash[0] ^= 0x80;  // signature no longer covers the fields
  g->sigs.push_back(s);
  s = g->sigs[0];
  s.header[0] ^= 1;
  g->sigs.push_back(s);
  s = g->sigs[0];
  s.header2[5] ^= 1;
  g->sigs.push_back(s);
  s = g->sigs[1];
  s.vendor = 0x1234;
  g->sigs.push_back(s);
  s = g->sigs[1];
  s.exponent = 65537;
  g->sigs.push_back(s);
  s = g->sigs[2];
  s.q1_le[17] ^= 4;
  g->sigs.push_back(s);
  s = g->sigs[2];
  s.q2_le[383] ^= 1;
  g->sigs.push_back(s);
  s = g->sigs[3];
  s.signature_le[0] ^= 1;
  g->sigs.push_back(s);
  s = g->sigs[3];
  s.modulus_le[100] ^= 1;  // another signer: the signature fails
  g->sigs.push_back(s);
  g->sigs.push_back(Sigstruct{});
  g->sigs.push_back(Sigstruct::WithHeaders());
}

// ---- Input reading ------------------------------------------------------

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(Byte() | Byte() << 8); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{Byte()} << (8 * i);
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

enum class Want { kAny, kFree, kSecs, kTcs, kVa };

struct Blob {
  EvictedPage page;
  EpcPage va = 0;
  uint32_t slot = 0;
};

// ---- The harness --------------------------------------------------------

class Harness {
 public:
  explicit Harness(Machine& m) : m_(m) {}

  void Run(Reader& in) {
    while (!in.done() && step_ < kMaxSteps) {
      const int op = in.Byte() % kOpCount;
      op_ = op;
      Step(op, in);
      CheckInvariants();
      ++step_;
    }
  }

 private:
  // ---- Argument decoding --------------------------------------------------
  CoreId Core(Reader& in) {
    const uint8_t b = in.Byte();
    return b == 0xff ? 0xffffffffu : b % (kCores + 1);
  }

  EpcPage PageArg(Reader& in, Want want) {
    const uint8_t b = in.Byte();
    if (b < 0x80) return b % (m_.epc_pages() + 2);
    std::vector<EpcPage> fit;
    for (EpcPage p = 0; p < m_.epc_pages(); ++p) {
      const EpcmEntry e = m_.Epcm(p);
      bool ok = false;
      switch (want) {
        case Want::kAny:
          ok = e.valid;
          break;
        case Want::kFree:
          ok = !e.valid;
          break;
        case Want::kSecs:
          ok = e.valid && e.type == PageType::kSecs;
          break;
        case Want::kTcs:
          ok = e.valid && e.type == PageType::kTcs;
          break;
        case Want::kVa:
          ok = e.valid && e.type == PageType::kVa;
          break;
      }
      if (ok) fit.push_back(p);
    }
    if (fit.empty()) return b % (m_.epc_pages() + 2);
    return fit[(b & 0x7f) % fit.size()];
  }

  uint64_t PageAddr(Reader& in) {
    const uint8_t b0 = in.Byte();
    if ((b0 & 0x0f) == 0x0f) return in.U64();
    const uint8_t b1 = in.Byte();
    uint64_t a = kBases[(b0 & 0x0f) % kBases.size()] + uint64_t{b1 & 0x1fu} * kPageSize;
    if (b0 & 0x80) a += kMisalign[(b0 >> 4) & 7];
    return a;
  }

  uint64_t ByteAddr(Reader& in) {
    uint64_t a = PageAddr(in);
    const uint8_t b2 = in.Byte();
    a += uint64_t{b2 & 0x0fu} * kEextendChunkSize;
    if (b2 & 0x10) a += 0x80;
    return a;
  }

  SecInfo SecInfoArg(Reader& in) {
    const uint8_t b0 = in.Byte(), b1 = in.Byte();
    uint64_t flags = b0 | uint64_t{b1} << 8;
    if (b1 == 0xff) flags |= uint64_t{1} << 20;
    return SecInfo{flags};
  }

  // The template page to put at `linaddr`, if a template sits there.
  const std::array<uint8_t, kPageSize>* TemplateContent(uint64_t linaddr) const {
    for (const Template& t : g->templates)
      for (size_t bi : t.bases) {
        const uint64_t base = kBases[bi];
        if (linaddr < base || linaddr - base >= t.size) continue;
        for (const PageSpec& p : t.pages)
          if (p.offset == linaddr - base) return &p.data;
      }
    return nullptr;
  }

  Secs TemplateSecs(const Template& t, size_t base_index, uint8_t attr_sel) const {
    Secs s;
    s.size = t.size;
    s.base_addr = kBases[t.bases[base_index % t.bases.size()]];
    s.ssa_frame_size = t.ssa_frame_size;
    s.attributes = kAttributes;
    switch (attr_sel % 8) {
      case 1:
        s.attributes.flags |= attr::kDebug;
        break;
      case 2:
        s.attributes.flags = 0;
        break;  // 32-bit
      case 3:
        s.attributes.flags |= 1u << 3;
        break;  // reserved: #GP
      case 4:
        s.attributes.xfrm = 0x1;
        break;  // no SSE: #GP
      case 5:
        s.attributes.xfrm = 0x7;
        break;
      case 6:
        s.attributes.flags |= attr::kProvisionKey | attr::kEinitTokenKey;
        break;
      case 7:
        s.misc_select = 1;
        break;
      default:
        break;
    }
    return s;
  }

  // ---- Result checking ----------------------------------------------------
  void Expect(const Status& s, bool unimplemented_ok = false, bool precondition_ok = false) {
    if (g_trace)
      std::fprintf(stderr, "step %zu %s: %s\n", step_, kOpNames[op_], s.ToString().c_str());
    if (s.ok()) return;
    const ErrorCode c = s.error().code;
    if (c == ErrorCode::kSgxError || c == ErrorCode::kFault) return;
    if (c == ErrorCode::kUnimplemented && unimplemented_ok) return;
    if (c == ErrorCode::kFailedPrecondition && precondition_ok) return;
    Violation(step_, op_, "unexpected error kind: " + s.ToString());
  }

  // ---- Steps --------------------------------------------------------------
  void Step(int op, Reader& in) {
    switch (op) {
      case kOpEcreate: {
        const uint8_t t = in.Byte();
        Secs secs;
        if (t < 0xc0) {
          const uint8_t base = in.Byte(), attr_sel = in.Byte();
          secs = TemplateSecs(g->templates[t % g->templates.size()], base, attr_sel);
        } else {
          secs.size = uint64_t{1} << (in.Byte() % 64);
          secs.base_addr = PageAddr(in);
          secs.ssa_frame_size = in.Byte() % 3;
          secs.attributes.flags = in.Byte();
          secs.attributes.xfrm = in.Byte();
        }
        const EpcPage page = PageArg(in, Want::kFree);
        Expect(m_.Ecreate(Core(in), secs, page));
        break;
      }
      case kOpEadd: {
        const EpcPage secs = PageArg(in, Want::kSecs);
        const uint64_t addr = PageAddr(in);
        const SecInfo si = SecInfoArg(in);
        const uint8_t content = in.Byte();
        const EpcPage page = PageArg(in, Want::kFree);
        std::array<uint8_t, kPageSize> src{};
        switch (content % 6) {
          case 0:
            if (auto* t = TemplateContent(addr)) src = *t;
            break;
          case 1:
            break;
          case 2:
            src = g->tcs_host;
            break;
          case 3:
            src = g->tcs_tiny;
            break;
          case 4:
            src = g->tcs_bad;
            break;
          case 5:
            src.fill(in.Byte());
            break;
        }
        // A short source is a #GP too.
        const ByteSpan span = content == 0xff ? ByteSpan(src).first(100) : ByteSpan(src);
        Expect(m_.Eadd(Core(in), secs, addr, si, span, page));
        break;
      }
      case kOpEextend: {
        const EpcPage secs = PageArg(in, Want::kSecs);
        const uint64_t addr = ByteAddr(in);
        Expect(m_.Eextend(Core(in), secs, addr));
        break;
      }
      case kOpEinit: {
        const EpcPage secs = PageArg(in, Want::kSecs);
        const Sigstruct& sig = g->sigs[in.Byte() % g->sigs.size()];
        const Status s = m_.Einit(Core(in), secs, sig);
        Expect(s);
        if (s.ok()) Snapshot(secs);
        break;
      }
      case kOpEremove: {
        const EpcPage page = PageArg(in, Want::kAny);
        Expect(m_.Eremove(Core(in), page));
        break;
      }
      case kOpEaug: {
        const EpcPage secs = PageArg(in, Want::kSecs);
        const uint64_t addr = PageAddr(in);
        const EpcPage page = PageArg(in, Want::kFree);
        Expect(m_.Eaug(Core(in), secs, addr, page));
        break;
      }
      case kOpEaccept: {
        const CoreId c = Core(in);
        const SecInfo si = SecInfoArg(in);
        Expect(m_.Eaccept(c, si, PageAddr(in)));
        break;
      }
      case kOpEacceptcopy: {
        const CoreId c = Core(in);
        const SecInfo si = SecInfoArg(in);
        const uint64_t dest = PageAddr(in);
        const uint64_t src = PageAddr(in);
        Expect(m_.Eacceptcopy(c, si, dest, src));
        break;
      }
      case kOpEmodpr: {
        const SecInfo si = SecInfoArg(in);
        const EpcPage page = PageArg(in, Want::kAny);
        Expect(m_.Emodpr(Core(in), si, page));
        break;
      }
      case kOpEmodpe: {
        const CoreId c = Core(in);
        const SecInfo si = SecInfoArg(in);
        Expect(m_.Emodpe(c, si, PageAddr(in)));
        break;
      }
      case kOpEmodt: {
        const SecInfo si = SecInfoArg(in);
        const EpcPage page = PageArg(in, Want::kAny);
        Expect(m_.Emodt(Core(in), si, page));
        break;
      }
      case kOpEpa: {
        const EpcPage page = PageArg(in, Want::kFree);
        Expect(m_.Epa(Core(in), page));
        break;
      }
      case kOpEblock: {
        const EpcPage page = PageArg(in, Want::kAny);
        Expect(m_.Eblock(Core(in), page));
        break;
      }
      case kOpEtrack: {
        const EpcPage secs = PageArg(in, Want::kSecs);
        Expect(m_.Etrack(Core(in), secs));
        break;
      }
      case kOpEwb: {
        const EpcPage page = PageArg(in, Want::kAny);
        const EpcPage va = PageArg(in, Want::kVa);
        const uint8_t sb = in.Byte();
        const uint32_t slot = sb < 0xf0 ? sb % 8 : 505 + (sb & 0xf);  // 505..520: past 511 too
        const EpcmEntry before = m_.Epcm(page);
        const bool unmodeled = before.valid && before.type == PageType::kSecs;
        auto r = m_.Ewb(Core(in), page, va, slot);
        Expect(r.status(), unmodeled);
        if (r.ok()) {
          if (blobs_.size() == kMaxBlobs) blobs_.erase(blobs_.begin());
          blobs_.push_back(Blob{*r, va, slot});
        }
        break;
      }
      case kOpEldu:
      case kOpEldb: {
        const uint8_t bi = in.Byte();
        const EpcPage secs = PageArg(in, Want::kSecs);
        const EpcPage page = PageArg(in, Want::kFree);
        const uint8_t mode = in.Byte();
        EpcPage va = 0;
        uint32_t slot = 0;
        if (!(mode & 1)) {
          va = PageArg(in, Want::kVa);
          slot = in.Byte() % 8;
        }
        if (blobs_.empty()) break;
        const Blob& b = blobs_[bi % blobs_.size()];
        if (mode & 1) {
          va = b.va;
          slot = b.slot;
        }
        const CoreId c = Core(in);
        Expect(op == kOpEldu ? m_.Eldu(c, b.page, secs, page, va, slot)
                             : m_.Eldb(c, b.page, secs, page, va, slot));
        break;
      }
      case kOpEreport: {
        const CoreId c = Core(in);
        const uint8_t t = in.Byte();
        TargetInfo target;
        if (t % (g->templates.size() + 2) < g->templates.size()) {
          target.measurement = g->templates[t % (g->templates.size() + 2)].mr_enclave;
          target.attributes = kAttributes;
        } else if (t % (g->templates.size() + 2) == g->templates.size()) {
          if (auto cur = m_.CurrentEnclave(c % kCores))
            if (auto secs = m_.SecsOf(*cur); secs.ok()) {
              target.measurement = secs->mr_enclave;
              target.attributes = secs->attributes;
            }
        }
        ReportData data;
        data.fill(in.Byte());
        Expect(m_.Ereport(c, target, data).status());
        break;
      }
      case kOpEgetkey: {
        const CoreId c = Core(in);
        KeyRequest r;
        r.key_name = in.Byte() % 7;
        r.key_policy = in.U16();
        r.isv_svn = in.Byte() % 5;
        r.config_svn = in.Byte() % 2;
        r.cpu_svn[0] = in.Byte() % 3;
        r.attribute_mask.flags = in.Byte();
        r.attribute_mask.xfrm = 0x3;
        r.misc_mask = 0xffffffff;
        Expect(m_.Egetkey(c, r).status());
        break;
      }
      case kOpEenter:
      case kOpEresume: {
        const CoreId c = Core(in);
        const EpcPage tcs = PageArg(in, Want::kTcs);
        const Status s = op == kOpEenter ? m_.Eenter(c, tcs) : m_.Eresume(c, tcs);
        Expect(s);
        if (s.ok()) core_tcs_[c] = tcs;
        break;
      }
      case kOpEexit:
        Expect(m_.Eexit(Core(in)));
        break;
      case kOpAex:
        Expect(m_.Aex(Core(in)));
        break;
      case kOpEmap: {
        const CoreId c = Core(in);
        const EpcPage plugin = PageArg(in, Want::kSecs);
        const uint8_t e = in.Byte();
        crypto::Sha256Digest expected{};
        const size_t n = g->templates.size();
        if (e % (n + 2) < n) {
          expected = g->templates[e % (n + 2)].mr_enclave;
        } else if (e % (n + 2) == n) {
          if (auto secs = m_.SecsOf(plugin); secs.ok()) expected = secs->mr_enclave;
        }
        Expect(m_.Emap(c, plugin, expected));
        break;
      }
      case kOpEunmap: {
        const CoreId c = Core(in);
        Expect(m_.Eunmap(c, PageArg(in, Want::kSecs)));
        break;
      }
      case kOpRead: {
        const CoreId c = Core(in);
        const uint64_t addr = ByteAddr(in);
        std::vector<uint8_t> buf(in.U16() % 8300);
        Expect(m_.Read(c, addr, buf));
        break;
      }
      case kOpWrite: {
        const CoreId c = Core(in);
        const uint64_t addr = ByteAddr(in);
        std::vector<uint8_t> buf(in.U16() % 8300, in.Byte());
        Expect(m_.Write(c, addr, buf));
        break;
      }
      case kOpCopyOnWrite: {
        const CoreId c = Core(in);
        const uint64_t addr = PageAddr(in);
        const EpcPage page = PageArg(in, Want::kFree);
        // REQUIRES: the core is inside the host on `tcs` — pass the TCS it
        // entered on (any TCS if it is outside: Translate refuses first).
        const EpcPage tcs = c < kCores ? core_tcs_[c] : 0;
        const Status s = m_.CopyOnWrite(c, tcs, addr, page);
        Expect(s, false, /*precondition_ok=*/true);
        break;
      }
      case kOpTranslate: {
        const CoreId c = Core(in);
        Expect(m_.Translate(c, ByteAddr(in)).status());
        break;
      }
      case kOpBuild:
        Build(in);
        break;
      case kOpCorruptBlob: {
        const uint8_t bi = in.Byte(), field = in.Byte(), pos = in.Byte(), x = in.Byte() | 1;
        if (blobs_.empty()) break;
        EvictedPage& b = blobs_[bi % blobs_.size()].page;
        switch (field % 5) {
          case 0:
            if (!b.ciphertext.empty()) b.ciphertext[pos * 16 % b.ciphertext.size()] ^= x;
            break;
          case 1:
            b.mac[pos % b.mac.size()] ^= x;
            break;
          case 2:
            b.linaddr ^= uint64_t{x} << (8 * (pos % 8));
            break;
          case 3:
            b.secinfo.flags ^= uint64_t{x} << (8 * (pos % 8));
            break;
          case 4:
            b.enclave_id ^= x;
            break;
        }
        break;
      }
      default:
        break;
    }
  }

  // Builds template t: ECREATE, EADD + EEXTEND of each page, then EINIT with
  // its valid SIGSTRUCT, on free pages. Flags: bit 0 skip EINIT, bit 1 DEBUG
  // attribute (EINIT then fails), bit 2 issue on core 1 instead of 0.
  void Build(Reader& in) {
    const Template& t = g->templates[in.Byte() % g->templates.size()];
    const uint8_t base = in.Byte(), flags = in.Byte();
    const Secs secs = TemplateSecs(t, base, (flags & 2) ? 1 : 0);
    const CoreId core = (flags >> 2) & 1;
    auto secs_page = m_.FindFreePage();
    if (!secs_page.ok()) return;
    const Status created = m_.Ecreate(core, secs, *secs_page);
    Expect(created);
    if (!created.ok()) return;
    for (const PageSpec& p : t.pages) {
      auto page = m_.FindFreePage();
      if (!page.ok()) return;
      const uint64_t addr = secs.base_addr + p.offset;
      const Status added = m_.Eadd(core, *secs_page, addr, SecInfo{p.flags}, p.data, *page);
      Expect(added);
      if (!added.ok()) return;
      if (!p.measured) continue;
      for (uint64_t c = 0; c < kPageSize; c += kEextendChunkSize)
        Expect(m_.Eextend(core, *secs_page, addr + c));
    }
    if (flags & 1) return;
    const size_t index = static_cast<size_t>(&t - g->templates.data());
    const Status s = m_.Einit(core, *secs_page, g->sigs[index]);
    Expect(s);
    if (s.ok()) Snapshot(*secs_page);
  }

  // ---- Invariants -----------------------------------------------------------
  void Snapshot(EpcPage secs) {
    for (EpcPage p = 0; p < m_.epc_pages(); ++p) {
      const EpcmEntry e = m_.Epcm(p);
      if (e.valid && e.type == PageType::kSreg && e.owner == secs) {
        auto bytes = m_.PageBytes(p);
        std::array<uint8_t, kPageSize> copy;
        std::copy(bytes.begin(), bytes.end(), copy.begin());
        sreg_[{secs, e.linaddr}] = copy;
      }
    }
  }

  void CheckInvariants() {
    const uint32_t n = m_.epc_pages();
    std::vector<EpcmEntry> epcm(n);
    for (EpcPage p = 0; p < n; ++p) epcm[p] = m_.Epcm(p);
    uint32_t valid = 0;
    std::set<std::pair<EpcPage, uint64_t>> seen;
    std::map<EpcPage, Secs> live;
    for (EpcPage p = 0; p < n; ++p) {
      const EpcmEntry& e = epcm[p];
      if (!e.valid) continue;
      ++valid;
      if (e.type == PageType::kSecs) {
        if (e.owner != p) Violation(step_, op_, "SECS page does not own itself");
        auto secs = m_.SecsOf(p);
        if (!secs.ok())
          Violation(step_, op_, "valid SECS page has no enclave: " + secs.status().ToString());
        live[p] = *secs;
      }
    }
    if (valid + m_.FreePageCount() != n)
      Violation(step_, op_,
                "FreePageCount " + std::to_string(m_.FreePageCount()) + " + valid EPCM entries " +
                    std::to_string(valid) + " != " + std::to_string(n));
    for (EpcPage p = 0; p < n; ++p) {
      const EpcmEntry& e = epcm[p];
      if (!e.valid || e.type == PageType::kSecs || e.type == PageType::kVa) continue;
      auto owner = live.find(e.owner);
      if (owner == live.end())
        Violation(step_, op_, Pg(p) + " belongs to " + Pg(e.owner) + ", not a live SECS");
      const Secs& s = owner->second;
      if (e.linaddr < s.base_addr || e.linaddr - s.base_addr >= s.size)
        Violation(step_, op_, Pg(p) + " lies outside its enclave's ELRANGE");
      if (!seen.insert({e.owner, e.linaddr}).second)
        Violation(step_, op_, "two valid pages of one enclave share an address");
    }
    // Cores in enclave mode.
    for (CoreId c = 0; c < kCores; ++c) {
      const auto cur = m_.CurrentEnclave(c);
      if (!cur) continue;
      if (!live.count(*cur)) Violation(step_, op_, "a core runs inside an enclave with no SECS");
      const EpcmEntry t = m_.Epcm(core_tcs_[c]);
      if (!t.valid || t.type != PageType::kTcs || t.owner != *cur)
        Violation(step_, op_,
                  "core " + std::to_string(c) + " runs on " + Pg(core_tcs_[c]) +
                      ", which is no longer a TCS of its enclave");
      // Probe the addresses of the enclave's own pages and of every PT_SREG page.
      for (EpcPage p = 0; p < n; ++p) {
        const EpcmEntry& pe = epcm[p];
        if (!pe.valid || pe.type == PageType::kSecs || pe.type == PageType::kVa) continue;
        if (pe.owner != *cur && pe.type != PageType::kSreg) continue;
        const uint64_t addr = pe.linaddr;
        auto tr = m_.Translate(c, addr);
        if (!tr.ok()) {
          if (tr.error().code != ErrorCode::kFault)
            Violation(step_, op_, "Translate failed with " + tr.status().ToString());
          continue;
        }
        const EpcmEntry& e = epcm[tr->page];
        if (!e.valid || e.linaddr != addr)
          Violation(step_, op_, "Translate gave a page that is not valid at that address");
        if (tr->shared ? (e.type != PageType::kSreg || e.owner == *cur) : e.owner != *cur)
          Violation(step_, op_, "Translate gave another enclave's private page");
      }
    }
    // PT_SREG snapshots.
    for (auto it = sreg_.begin(); it != sreg_.end();) {
      const auto [secs, linaddr] = it->first;
      if (!live.count(secs)) {
        it = sreg_.erase(it);
        continue;
      }
      for (EpcPage p = 0; p < n; ++p) {
        const EpcmEntry& e = epcm[p];
        if (!e.valid || e.owner != secs || e.linaddr != linaddr || e.type == PageType::kSecs)
          continue;
        if (e.type != PageType::kSreg) Violation(step_, op_, "a PT_SREG page changed its type");
        if (std::memcmp(m_.PageBytes(p).data(), it->second.data(), kPageSize) != 0)
          Violation(step_, op_, "the bytes of a PT_SREG page changed after EINIT");
      }
      ++it;
    }
  }

  Machine& m_;
  size_t step_ = 0;
  int op_ = -1;
  std::vector<Blob> blobs_;
  std::array<EpcPage, kCores> core_tcs_{};
  std::map<std::pair<EpcPage, uint64_t>, std::array<uint8_t, kPageSize>> sreg_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  BuildGlobals();
  // MachineConfig's default parses the built-in JSON profile: do that once.
  g_config = new MachineConfig;
  g_config->epc_pages = kEpcPages;
  g_config->cores = kCores;
  g_config->root_secret = std::array<uint8_t, 32>{1, 2, 3, 4, 5, 6, 7, 8};
  g_trace = std::getenv("MACHINE_FUZZ_TRACE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = Machine::Create(*g_config);
  if (!m.ok()) {
    std::fprintf(stderr, "machine_fuzz: Machine::Create: %s\n", m.status().ToString().c_str());
    std::abort();
  }
  Reader in(data, size);
  Harness h(**m);
  h.Run(in);
  return 0;
}
