#include "region_open.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"
#include "fault_sites.h"
#include "sysfs.h"
#include "vm.h"

namespace daxfs {
namespace {

constexpr uint64_t kTmpfsMagic = 0x01021994;
constexpr uint64_t kRamfsMagic = 0x858458f6;
constexpr uint64_t kHugetlbfsMagic = 0x958458f6;
constexpr uint64_t kHugeAlign = uint64_t{2} << 20;

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string ToOctal(uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  return s;
}

// Closes the descriptor on every error path (and unlinks a file we created).
struct FdGuard {
  int fd = -1;
  std::string created_path;
  ~FdGuard() {
    if (fd >= 0) close(fd);
    if (!created_path.empty()) unlink(created_path.c_str());
  }
};

[[noreturn]] void Fail(Napi::Env env, const char* code, const std::string& path,
                       const std::string& why) {
  ThrowCode(env, code, "cannot open region '" + path + "': " + why);
}

std::string MapSyncRefusal(int err) {
  // ENOTSUP: a file system without DAX (Linux has one value under two names;
  // this is the one Node prints).
  if (err == ENOTSUP)
    return "the kernel refused MAP_SYNC (ENOTSUP): this file is not on a DAX-capable "
           "file system, so stores are buffered in the page cache";
  if (err == EINVAL)
    return "the kernel does not know MAP_SHARED_VALIDATE/MAP_SYNC (EINVAL): kernel older than 4.15";
  return std::string("MAP_SYNC failed with ") + ErrnoName(err);
}

}  // namespace

std::shared_ptr<RegionCore> OpenRegion(Napi::Env env, const OpenOptions& o) {
  const uint64_t page = PageSize();
  if (o.path.empty()) ThrowCode(env, "EINVAL", "path must be a non-empty string");
  if (o.align != 0 && (!IsPowerOfTwo(o.align) || o.align < page))
    ThrowCode(env, "EINVAL", "align must be a power of two of at least " + std::to_string(page) +
                                 ", got " + std::to_string(o.align));

  FdGuard guard;
  if (o.create) {
    if (o.read_only) ThrowCode(env, "EINVAL", "create and readOnly cannot be combined");
    if (o.size == 0 || o.size % page != 0)
      ThrowCode(env, "EINVAL", "size must be a positive multiple of " + std::to_string(page) +
                                   " bytes, got " + std::to_string(o.size));
    if (o.mode > 0777)
      ThrowCode(env, "EINVAL", "mode must be permission bits (0 to 0o777), got 0o" + ToOctal(o.mode));
    guard.fd = open(o.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(o.mode & 0600));
    if (guard.fd < 0) ThrowErrno(env, errno, "open", "creating the region file", o.path);
    guard.created_path = o.path;
    // Created private (owner bits only, so nobody else can open it before
    // the mode is final), then given exactly the mode asked for: the umask
    // would otherwise narrow a mode chosen deliberately to share the file.
    if (fchmod(guard.fd, static_cast<mode_t>(o.mode)) != 0)
      ThrowErrno(env, errno, "fchmod", "setting the region file's mode", o.path);
    if (ftruncate(guard.fd, static_cast<off_t>(o.size)) != 0)
      ThrowErrno(env, errno, "ftruncate", "sizing the region file", o.path);
  } else {
    // Classify before opening: a block device, FIFO or socket is refused by
    // its type (opening some of them has side effects or needs privileges).
    struct stat pre;
    if (stat(o.path.c_str(), &pre) != 0) ThrowErrno(env, errno, "stat", "opening the region", o.path);
    if (S_ISDIR(pre.st_mode)) Fail(env, "EISDIR", o.path, "it is a directory");
    if (S_ISBLK(pre.st_mode))
      Fail(env, "EINVAL", o.path,
           "it is a block device; use a file on an fs-dax mount of it, or a device-dax instance");
    if (!S_ISREG(pre.st_mode) && !S_ISCHR(pre.st_mode))
      Fail(env, "EINVAL", o.path, "it is not a regular file or a device-dax character device");
    // O_NONBLOCK so that opening a FIFO swapped in meanwhile cannot hang.
    int flags = (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;
    guard.fd = open(o.path.c_str(), flags);
    if (guard.fd < 0 && errno == EISDIR) Fail(env, "EISDIR", o.path, "it is a directory");
    if (guard.fd < 0) ThrowErrno(env, errno, "open", "opening the region", o.path);
    fcntl(guard.fd, F_SETFL, fcntl(guard.fd, F_GETFL) & ~O_NONBLOCK);
  }

  struct stat st;
  if (fstat(guard.fd, &st) != 0) ThrowErrno(env, errno, "fstat", "", o.path);

  auto core = std::make_shared<RegionCore>();
  core->path = o.path;
  core->read_only = o.read_only;
  core->st_dev = st.st_dev;
  core->st_ino = st.st_ino;
  core->nt_threshold = o.nt_threshold;
  uint64_t align = page;

  if (S_ISREG(st.st_mode)) {
    core->size = static_cast<uint64_t>(st.st_size);
    if (core->size == 0) Fail(env, "EINVAL", o.path, "the file is empty (zero length)");
    if (core->size % page != 0)
      Fail(env, "EINVAL", o.path,
           "its size " + std::to_string(core->size) + " is not a multiple of the block size " +
               std::to_string(page));
  } else if (S_ISCHR(st.st_mode)) {
    DevDaxInfo dax = ReadDevDaxInfo(o.sysfs_root, major(st.st_rdev), minor(st.st_rdev));
    if (!dax.is_devdax)
      Fail(env, "ENODEV", o.path,
           "it is a character device but not a device-dax instance (subsystem '" +
               (dax.subsystem.empty() ? std::string("unknown") : dax.subsystem) + "')");
    core->devdax = true;
    core->size = dax.size;
    // Device-dax refuses mappings not aligned to its alignment; 2 MiB is the
    // kernel default when the attribute is not published.
    align = dax.align != 0 ? dax.align : kHugeAlign;
    if (core->size == 0 || core->size % align != 0)
      Fail(env, "EINVAL", o.path, "device-dax size " + std::to_string(core->size) +
                                      " is not a positive multiple of its alignment " +
                                      std::to_string(align));
  } else if (S_ISDIR(st.st_mode)) {
    Fail(env, "EISDIR", o.path, "it is a directory");
  } else if (S_ISBLK(st.st_mode)) {
    Fail(env, "EINVAL", o.path,
         "it is a block device; use a file on an fs-dax mount of it, or a device-dax instance");
  } else {
    Fail(env, "EINVAL", o.path, "it is not a regular file or a device-dax character device");
  }
  if (o.align > align) align = o.align;
  if (core->size % align != 0)
    Fail(env, "EINVAL", o.path, "size " + std::to_string(core->size) +
                                    " is not a multiple of the alignment " + std::to_string(align));
  core->align = align;
  if (core->size > SIZE_MAX) Fail(env, "EFBIG", o.path, "too large to map");

  struct statfs sfs;
  if (fstatfs(guard.fd, &sfs) == 0) core->fs_magic = static_cast<uint64_t>(sfs.f_type);

  // Map at 2 MiB alignment when the region is that large, so that huge
  // mappings are possible where the backing supports them.
  uint64_t map_align = align;
  if (core->size >= kHugeAlign && map_align < kHugeAlign) map_align = kHugeAlign;
  if (o.require_map_sync && o.read_only)
    ThrowCode(env, "EINVAL", "requireMapSync and readOnly cannot be combined: MAP_SYNC "
                             "concerns shared writable mappings");
  size_t length = static_cast<size_t>(core->size);
  void* base = nullptr;
  if (o.read_only && !core->devdax) {
    // A private writable mapping of a read-only file: stores through a view
    // cannot fault (they land in private copy-on-write pages of this process
    // and never reach the backing), and the file cannot be modified.
    // MAP_NORESERVE: nothing is charged for copies that are never made, so a
    // backing larger than memory opens read-only like any other.
    base = MapAligned(length, map_align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, guard.fd, 0);
    if (base == nullptr) ThrowErrno(env, errno, "mmap", "mapping the region read-only", o.path);
    core->private_copy = true;
  } else {
    int prot = o.read_only ? PROT_READ : PROT_READ | PROT_WRITE;
    // Device-dax cannot be mapped privately: a read-only one has no views.
    core->views_safe = !o.read_only;
    base = MapAligned(length, map_align, prot, MAP_SHARED_VALIDATE | MAP_SYNC, guard.fd, 0);
    if (base != nullptr) {
      core->map_sync = true;
    } else {
      int err = errno;
      if (err != ENOTSUP && err != EINVAL)
        ThrowErrno(env, err, "mmap", "mapping the region with MAP_SYNC", o.path);
      core->map_sync_errno = err;
      if (o.require_map_sync)
        ThrowCode(env, "ENOTSUP",
                  "cannot open region '" + o.path + "' with requireMapSync: " + MapSyncRefusal(err));
      base = MapAligned(length, map_align, prot, MAP_SHARED, guard.fd, 0);
      if (base == nullptr) ThrowErrno(env, errno, "mmap", "mapping the region", o.path);
    }
  }
  core->map_length = length;
  core->mapped_ = static_cast<uint8_t*>(base);
  core->span = std::make_shared<AddressSpan>(base, length);
  core->base_.store(static_cast<uint8_t*>(base), std::memory_order_release);

  if (o.force_msync) {
    core->mode = Persistence::kMsync;
  } else if (core->devdax || core->map_sync) {
    core->mode = Persistence::kCacheFlush;
  } else if (core->fs_magic == kTmpfsMagic || core->fs_magic == kRamfsMagic ||
             core->fs_magic == kHugetlbfsMagic) {
    core->mode = Persistence::kVolatile;
  } else {
    core->mode = Persistence::kMsync;
  }

  core->flush = ChooseFlush(DetectCpuFlushSupport(), o.flush, &core->flush_note);
  core->persistence_domain = ReadPersistenceDomain(o.sysfs_root);
  // On eADR platforms the CPU caches are inside the persistence domain: a
  // fence is enough, unless a flush instruction was asked for explicitly.
  if (core->mode == Persistence::kCacheFlush && core->persistence_domain == "cpu_cache" &&
      o.flush.empty())
    core->flush_needed = false;

  core->fd = guard.fd;
  guard.fd = -1;
  guard.created_path.clear();
  // From here a SIGBUS in the region's memory can be named (fault_sites.h).
  AddFaultSite(core->mapped_, core->map_length, core.get(), false);
  return core;
}

}  // namespace daxfs
