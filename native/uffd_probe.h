// What userfaultfd this process may use, probed once: the kernel's answer
// to the three ways of getting one — the system call in full mode, the
// system call in user-mode-only form (faults taken inside the kernel, by a
// system call writing into a registered page, are not reported: the call
// fails with EFAULT instead), and /dev/userfaultfd — and the features the
// kernel offers (write-protect on shmem, missing faults on shmem, ...).
//
// Why it matters: userfaultfd resolves faults taken inside system calls and
// a SIGSEGV handler does not; without privilege (vm.unprivileged_userfaultfd
// = 0, /dev/userfaultfd mode 0600) only the user-mode-only form may be
// granted, or none. The capability report shows the answer; a fault
// mechanism built on it must choose by it, at run time.
#pragma once

#include <cstdint>
#include <string>

namespace daxfs {

struct UffdWay {
  bool available = false;
  int err = 0;  // errno when refused
};

struct UffdProbe {
  UffdWay syscall_full;     // userfaultfd(O_CLOEXEC)
  UffdWay syscall_user;     // userfaultfd(O_CLOEXEC | UFFD_USER_MODE_ONLY)
  UffdWay device;           // open("/dev/userfaultfd") + USERFAULTFD_IOC_NEW
  uint64_t features = 0;    // UFFDIO_API's answer, from the first fd obtained (0: none)
  uint64_t ioctls = 0;      // the ioctls that fd offers
  int api_err = 0;          // errno of UFFDIO_API, if it failed
};

// The probe, made on the first call (thread-safe).
const UffdProbe& ProbeUserfaultfd();

// A userfaultfd of the best form granted (full, else user-mode-only, else
// through the device), O_CLOEXEC | O_NONBLOCK, API handshake not done; -1
// with errno as the last refusal when none is.
int OpenUserfaultfd();

// The names of the feature bits set in `features` that the report shows
// ("missing-shmem", "wp", "wp-shmem", "minor-shmem", ...), comma-separated.
std::string UffdFeatureNames(uint64_t features);

}  // namespace daxfs
