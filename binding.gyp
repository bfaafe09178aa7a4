{
  "targets": [
    {
      "target_name": "daxfs",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/bitmap.cc",
        "native/cpu_persist.cc",
        "native/errors.cc",
        "native/external_buffer.cc",
        "native/mmu.cc",
        "native/nt_store.cc",
        "native/page_state.cc",
        "native/region.cc",
        "native/region_core.cc",
        "native/region_open.cc",
        "native/sysfs.cc",
        "native/vm.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
