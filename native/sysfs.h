// What the kernel publishes in sysfs about persistent memory: device-dax
// geometry and the platform's persistence domain. The root is a parameter so
// tests can point it at a fabricated tree.
#pragma once

#include <cstdint>
#include <string>

namespace daxfs {

struct DevDaxInfo {
  bool is_devdax = false;  // the character device belongs to the dax subsystem
  uint64_t size = 0;       // bytes, from <dev>/size
  uint64_t align = 0;      // bytes, from <dev>/align (0 when not published)
  std::string subsystem;   // name of the subsystem the device belongs to
};

// Reads /sys/dev/char/<major>:<minor>/{subsystem,size,align} under `root`.
DevDaxInfo ReadDevDaxInfo(const std::string& root, unsigned major, unsigned minor);

// Summarises <root>/bus/nd/devices/region*/persistence_domain: "cpu_cache"
// when every region reports it (eADR), "memory_controller" when any region
// needs cache flushing (ADR), "" when no region publishes one.
std::string ReadPersistenceDomain(const std::string& root);

}  // namespace daxfs
