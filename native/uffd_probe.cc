#include "uffd_probe.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

// Kernel headers older than the running kernel (the prebuild's build host)
// may lack the newer names; the values are the kernel's ABI.
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

namespace daxfs {
namespace {

// The feature bits the report names, by the kernel's bit numbers.
struct FeatureName {
  int bit;
  const char* name;
};
constexpr FeatureName kFeatures[] = {
    {0, "wp"},                 // UFFD_FEATURE_PAGEFAULT_FLAG_WP: write-protect faults (anonymous memory)
    {5, "missing-shmem"},      // missing faults on shmem and tmpfs files
    {7, "sigbus"},             // UFFD_FEATURE_SIGBUS
    {8, "thread-id"},          // the faulting thread's id in the event
    {10, "minor-shmem"},       // minor faults on shmem (page cache present, PTE missing)
    {11, "exact-address"},     // the exact faulting address
    {12, "wp-shmem"},          // UFFD_FEATURE_WP_HUGETLBFS_SHMEM: write-protect on shmem
    {13, "wp-unpopulated"},    // UFFD_FEATURE_WP_UNPOPULATED
    {14, "poison"},            // UFFD_FEATURE_POISON
    {15, "wp-async"},          // UFFD_FEATURE_WP_ASYNC
    {16, "move"},              // UFFD_FEATURE_MOVE
};

int SyscallFd(int flags) {
#ifdef SYS_userfaultfd
  return static_cast<int>(syscall(SYS_userfaultfd, flags));
#else
  errno = ENOSYS;
  return -1;
#endif
}

int DeviceFd() {
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return -1;
  int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
  int err = errno;
  close(dev);
  errno = err;
  return fd;
}

// Records how one way answered; keeps the first fd obtained for the
// feature handshake, closes the others.
void Try(UffdWay* way, int fd, int* keep) {
  if (fd < 0) {
    way->err = errno;
    return;
  }
  way->available = true;
  if (*keep < 0) *keep = fd;
  else close(fd);
}

UffdProbe Measure() {
  UffdProbe p;
  int fd = -1;
  Try(&p.syscall_full, SyscallFd(O_CLOEXEC | O_NONBLOCK), &fd);
  Try(&p.syscall_user, SyscallFd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY), &fd);
  Try(&p.device, DeviceFd(), &fd);
  if (fd >= 0) {
    // features 0: the kernel answers with every feature it supports
    struct uffdio_api api = {};
    api.api = UFFD_API;
    if (ioctl(fd, UFFDIO_API, &api) == 0) {
      p.features = api.features;
      p.ioctls = api.ioctls;
    } else {
      p.api_err = errno;
    }
    close(fd);
  }
  return p;
}

}  // namespace

int OpenUserfaultfd() {
  int fd = SyscallFd(O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fd = SyscallFd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) fd = DeviceFd();
  return fd;
}

const UffdProbe& ProbeUserfaultfd() {
  static const UffdProbe probe = Measure();  // once, thread-safe
  return probe;
}

std::string UffdFeatureNames(uint64_t features) {
  std::string out;
  for (const FeatureName& f : kFeatures) {
    if ((features & (uint64_t{1} << f.bit)) == 0) continue;
    if (!out.empty()) out += ",";
    out += f.name;
  }
  return out;
}

}  // namespace daxfs
