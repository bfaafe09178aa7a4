// Opening and mapping a region's backing: a regular file (on tmpfs, an fs-dax
// mount or any other file system) or a device-dax character device.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "region_core.h"

namespace daxfs {

struct OpenOptions {
  std::string path;
  bool create = false;        // create a new file of `size` bytes (fails if it exists)
  uint64_t size = 0;
  uint64_t mode = 0600;       // permission bits of a created file, applied exactly (not umask-reduced)
  bool read_only = false;
  bool require_map_sync = false;
  bool force_msync = false;   // persist with msync even where flushing would do
  uint64_t align = 0;         // extra alignment asked for (power of two >= page)
  std::string flush;          // flush instruction override ("" = best)
  std::string sysfs_root = "/sys";
  uint64_t nt_threshold = 256;
};

// Opens, checks and maps the backing. Throws typed errors.
std::shared_ptr<RegionCore> OpenRegion(Napi::Env env, const OpenOptions& options);

}  // namespace daxfs
