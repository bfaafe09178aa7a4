#include "fault_sites.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "region_core.h"

namespace daxfs {
namespace {

// Room for every region and mapping a process normally holds; a range
// beyond it is only left unnamed in the fatal line.
constexpr size_t kSites = 4096;

struct Site {
  std::atomic<bool> claimed{false};
  std::atomic<uintptr_t> begin{0};  // 0: not in use (published last)
  std::atomic<uintptr_t> end{0};
  std::atomic<const RegionCore*> core{nullptr};
  std::atomic<bool> mapping{false};
  // SetFaultSiteLabel: written before the length is published
  char label[200];
  std::atomic<size_t> label_length{0};
  std::atomic<uint64_t> end_offset{UINT64_MAX};  // SetFaultSiteEnd
};

Site sites[kSites];
// No site at or beyond this index was ever claimed: lookups stop there.
std::atomic<size_t> high{0};

// Hexadecimal or decimal digits at *p, advancing it.
uint64_t ParseNumber(const char** p, const char* end, unsigned base) {
  uint64_t v = 0;
  for (; *p < end; ++*p) {
    char c = **p;
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else break;
    v = v * base + d;
  }
  return v;
}

struct Vma {
  uintptr_t start = 0;
  uintptr_t end = 0;
  uint64_t offset = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  uint64_t inode = 0;
};

// "start-end perms offset major:minor inode path": the fields before the path.
bool ParseMapsLine(const char* p, const char* end, Vma* vma) {
  vma->start = ParseNumber(&p, end, 16);
  if (p >= end || *p++ != '-') return false;
  vma->end = ParseNumber(&p, end, 16);
  if (p >= end || *p++ != ' ') return false;
  while (p < end && *p != ' ') p++;  // perms
  if (p >= end || *p++ != ' ') return false;
  vma->offset = ParseNumber(&p, end, 16);
  if (p >= end || *p++ != ' ') return false;
  vma->dev_major = static_cast<unsigned>(ParseNumber(&p, end, 16));
  if (p >= end || *p++ != ':') return false;
  vma->dev_minor = static_cast<unsigned>(ParseNumber(&p, end, 16));
  if (p >= end || *p++ != ' ') return false;
  vma->inode = ParseNumber(&p, end, 10);
  return true;
}

// The VMA holding `address`, from /proc/self/maps read with system calls
// only. A line's fields before the path fit in `line`; the rest is skipped.
bool FindVma(uintptr_t address, Vma* found) {
  int fd;
  do fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  char chunk[1024];
  char line[128];
  size_t used = 0;
  bool hit = false;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && !hit; i++) {
      if (chunk[i] != '\n') {
        if (used < sizeof(line)) line[used++] = chunk[i];
        continue;
      }
      Vma vma;
      if (ParseMapsLine(line, line + used, &vma) && address >= vma.start && address < vma.end) {
        *found = vma;
        hit = true;
      }
      used = 0;
    }
    if (hit) break;
  }
  close(fd);
  return hit;
}

// A line built in a fixed buffer: no allocation, no stdio.
struct Line {
  char text[1024];
  size_t length = 0;

  void Add(const char* s, size_t n) {
    if (n > sizeof(text) - 1 - length) n = sizeof(text) - 1 - length;
    std::memcpy(text + length, s, n);
    length += n;
  }
  void Add(const char* s) { Add(s, std::strlen(s)); }
  void Number(uint64_t v) {
    char digits[20];
    size_t n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    char out[20];
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    Add(out, n);
  }
  void Write(int fd) {
    text[length++] = '\n';  // room kept by Add
    const char* p = text;
    size_t left = length;
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
};

}  // namespace

void AddFaultSite(const void* start, size_t length, const RegionCore* core, bool mapping) {
  auto begin = reinterpret_cast<uintptr_t>(start);
  for (size_t i = 0; i < kSites; i++) {
    Site& s = sites[i];
    if (s.claimed.exchange(true, std::memory_order_acq_rel)) continue;
    s.end.store(begin + length, std::memory_order_relaxed);
    s.core.store(core, std::memory_order_relaxed);
    s.mapping.store(mapping, std::memory_order_relaxed);
    s.label_length.store(0, std::memory_order_relaxed);
    s.end_offset.store(UINT64_MAX, std::memory_order_relaxed);
    s.begin.store(begin, std::memory_order_release);
    size_t h = high.load(std::memory_order_relaxed);
    while (h < i + 1 && !high.compare_exchange_weak(h, i + 1, std::memory_order_release)) {
    }
    return;
  }
}

namespace {
// The site whose range starts at `start`, if any.
Site* SiteStartingAt(const void* start) {
  auto begin = reinterpret_cast<uintptr_t>(start);
  size_t h = high.load(std::memory_order_acquire);
  for (size_t i = 0; i < h; i++)
    if (sites[i].begin.load(std::memory_order_acquire) == begin) return &sites[i];
  return nullptr;
}

// The site holding `address`, if any.
const Site* SiteAt(uintptr_t address) {
  size_t h = high.load(std::memory_order_acquire);
  for (size_t i = 0; i < h; i++) {
    const Site& s = sites[i];
    uintptr_t begin = s.begin.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= s.end.load(std::memory_order_relaxed)) continue;
    return &s;
  }
  return nullptr;
}

// " (label)" of site `s`, when it has one.
void AddLabel(Line* line, const Site* s) {
  size_t n = s == nullptr ? 0 : s->label_length.load(std::memory_order_acquire);
  if (n == 0) return;
  line->Add(" (");
  line->Add(s->label, n);
  line->Add(")");
}
}  // namespace

void RemoveFaultSite(const void* start) {
  Site* s = SiteStartingAt(start);
  if (s == nullptr) return;
  s->begin.store(0, std::memory_order_release);
  s->core.store(nullptr, std::memory_order_relaxed);
  s->claimed.store(false, std::memory_order_release);
}

void SetFaultSiteLabel(const void* start, const char* label, size_t length) {
  Site* s = SiteStartingAt(start);
  if (s == nullptr) return;
  if (length > sizeof(s->label)) length = sizeof(s->label);
  s->label_length.store(0, std::memory_order_release);
  std::memcpy(s->label, label, length);
  s->label_length.store(length, std::memory_order_release);
}

void SetFaultSiteEnd(const void* start, uint64_t offset) {
  if (Site* s = SiteStartingAt(start)) s->end_offset.store(offset, std::memory_order_release);
}

bool FindFaultSite(uintptr_t address, FaultSite* site) {
  size_t h = high.load(std::memory_order_acquire);
  for (size_t i = 0; i < h; i++) {
    const Site& s = sites[i];
    uintptr_t begin = s.begin.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= s.end.load(std::memory_order_relaxed)) continue;
    const RegionCore* core = s.core.load(std::memory_order_relaxed);
    if (core == nullptr) continue;
    site->core = core;
    site->begin = begin;
    site->mapping = s.mapping.load(std::memory_order_relaxed);
    site->end_offset = s.end_offset.load(std::memory_order_acquire);
    return true;
  }
  return false;
}

bool RegionOffsetAt(const FaultSite& site, uintptr_t address, uint64_t* offset) {
  if (!site.mapping) {
    *offset = address - site.begin;
    return true;
  }
  // A mapping's run of region blocks is an mmap of the region's file at the
  // blocks' offset: the kernel's VMA says which.
  Vma vma;
  if (!FindVma(address, &vma)) return false;
  if (vma.inode == 0 || vma.inode != static_cast<uint64_t>(site.core->st_ino) ||
      vma.dev_major != major(site.core->st_dev) || vma.dev_minor != minor(site.core->st_dev))
    return false;
  *offset = vma.offset + (address - vma.start);
  return true;
}

FaultCause ClassifyFault(int fd, uint64_t offset, bool offset_known, int code, uint64_t* size) {
  if (code == BUS_MCEERR_AR || code == BUS_MCEERR_AO) return FaultCause::kMedia;
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return FaultCause::kUnknown;
  if (!S_ISREG(st.st_mode)) return FaultCause::kDevice;
  if (!offset_known) return FaultCause::kUnknown;
  if (offset >= static_cast<uint64_t>(st.st_size)) {
    *size = static_cast<uint64_t>(st.st_size);
    return FaultCause::kTruncated;
  }
  return FaultCause::kNoSpace;
}

bool ReportFatalFault(uintptr_t address, int code) {
  FaultSite site;
  if (!FindFaultSite(address, &site)) return false;
  uint64_t offset = 0;
  bool known = RegionOffsetAt(site, address, &offset);
  uint64_t size = 0;
  FaultCause cause = ClassifyFault(site.core->fd, offset, known, code, &size);
  Line line;
  line.Add("daxfs: SIGBUS at offset ");
  if (known) {
    line.Number(offset);
    line.Add(" of '");
    line.Add(site.core->path.data(), site.core->path.size());
    line.Add("'");
    if (site.mapping) {
      line.Add(", mapped at offset ");
      line.Number(address - site.begin);
      line.Add(" of a mapping");
      AddLabel(&line, SiteAt(address));
    }
  } else {
    line.Number(address - site.begin);
    line.Add(" of a mapping of '");
    line.Add(site.core->path.data(), site.core->path.size());
    line.Add("'");
  }
  line.Add(": ");
  switch (cause) {
    case FaultCause::kNoSpace: line.Add("no space on its file system to back this page"); break;
    case FaultCause::kTruncated:
      line.Add("the file was truncated to ");
      line.Number(size);
      line.Add(" bytes");
      break;
    case FaultCause::kMedia: line.Add("media error"); break;
    case FaultCause::kDevice: line.Add("the device could not supply this page"); break;
    case FaultCause::kUnknown: line.Add("no backing (file system full or file truncated)"); break;
  }
  line.Write(STDERR_FILENO);
  return true;
}

void ReportUnservedFault(uintptr_t address, bool write, const char* cause, int err) {
  FaultSite site;
  bool known = FindFaultSite(address, &site) && site.mapping;
  Line line;
  line.Add(write ? "daxfs: SIGBUS: a store at offset " : "daxfs: SIGBUS: a load at offset ");
  line.Number(known ? address - site.begin : 0);
  line.Add(" of a mapping");
  if (known) {
    AddLabel(&line, SiteAt(address));
    line.Add(" of '");
    line.Add(site.core->path.data(), site.core->path.size());
    line.Add("'");
  }
  line.Add(": ");
  line.Add(cause);
  if (err != 0) {
    line.Add(", errno ");
    line.Number(static_cast<uint64_t>(err));
  }
  line.Write(STDERR_FILENO);
}

AccessFault ReportAccessFault(uintptr_t address, bool write, bool served) {
  FaultSite site;
  if (!FindFaultSite(address, &site) || !site.mapping) return AccessFault::kNotOurs;
  uint64_t offset = address - site.begin;
  const Site* s = SiteAt(address);  // FindFaultSite found one: the same
  uint64_t end = s == nullptr ? UINT64_MAX : s->end_offset.load(std::memory_order_acquire);
  bool past = offset >= end;
  Line line;
  line.Add(past ? "daxfs: SIGBUS: " : "daxfs: SIGSEGV: ");
  line.Add(write ? "a store at offset " : "a load at offset ");
  line.Number(offset);
  line.Add(" of a mapping");
  AddLabel(&line, s);
  line.Add(" of '");
  line.Add(site.core->path.data(), site.core->path.size());
  line.Add("': ");
  if (past) {
    line.Add("the page lies wholly past the end of the file (every page from mapping offset ");
    line.Number(end);
    line.Add(" on does), as the kernel raises SIGBUS; extend the file first (truncate or write)");
  } else if (served && write) {
    line.Add("the mapping does not allow stores (it was made without write: true); map the file with write: true, "
             "or change it with PoolFile.write");
  } else if (write) {
    line.Add("the page is not writable here and this mapping serves no faults (a bare MMU mapping, or one being "
             "released); map the page writable first");
  } else {
    line.Add("the page is not mapped and this mapping serves no faults (a bare MMU mapping, or one being "
             "released); map the page first");
  }
  line.Write(STDERR_FILENO);
  return past ? AccessFault::kPastEnd : AccessFault::kBadAccess;
}

}  // namespace daxfs
