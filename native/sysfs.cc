#include "sysfs.h"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace daxfs {
namespace {

bool ReadLine(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *out);
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
  return true;
}

uint64_t ReadNumber(const std::string& path) {
  std::string line;
  if (!ReadLine(path, &line) || line.empty()) return 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(line.c_str(), &end, 0);
  return (end != nullptr && end != line.c_str()) ? value : 0;
}

}  // namespace

DevDaxInfo ReadDevDaxInfo(const std::string& root, unsigned major, unsigned minor) {
  DevDaxInfo info;
  std::string dir = root + "/dev/char/" + std::to_string(major) + ":" + std::to_string(minor);
  char target[PATH_MAX];
  ssize_t n = readlink((dir + "/subsystem").c_str(), target, sizeof(target) - 1);
  if (n <= 0) return info;
  target[n] = '\0';
  std::string link(target);
  size_t slash = link.find_last_of('/');
  info.subsystem = slash == std::string::npos ? link : link.substr(slash + 1);
  info.is_devdax = info.subsystem == "dax";
  if (!info.is_devdax) return info;
  info.size = ReadNumber(dir + "/size");
  info.align = ReadNumber(dir + "/align");
  return info;
}

std::string ReadPersistenceDomain(const std::string& root) {
  std::string base = root + "/bus/nd/devices";
  DIR* dir = opendir(base.c_str());
  if (dir == nullptr) return "";
  bool any = false;
  bool all_cpu_cache = true;
  while (dirent* entry = readdir(dir)) {
    std::string name(entry->d_name);
    if (name.rfind("region", 0) != 0) continue;
    std::string domain;
    if (!ReadLine(base + "/" + name + "/persistence_domain", &domain)) continue;
    any = true;
    if (domain != "cpu_cache") all_cpu_cache = false;
  }
  closedir(dir);
  if (!any) return "";
  return all_cpu_cache ? "cpu_cache" : "memory_controller";
}

}  // namespace daxfs
