{
  "variables": {
    # The poller: epoll on Linux, kqueue on macOS and the BSDs. RXLOOP_POLLER=kqueue forces kqueue
    # on Linux (against libkqueue), with its include and library flags in RXLOOP_POLLER_CFLAGS and
    # RXLOOP_POLLER_LIBS; those two are read only for a forced kqueue build.
    "rxloop_poller%": "<!(node -p \"const p = process.env.RXLOOP_POLLER || ''; if (!['', 'epoll', 'kqueue'].includes(p)) throw new Error('RXLOOP_POLLER: epoll or kqueue'); p\")"
  },
  "targets": [
    {
      "target_name": "rxloop",
      "sources": [
        "native/addon.cc",
        "native/loop.cc",
        "native/handoff.cc",
        "native/loop_handoff.cc",
        "native/loop_datagrams.cc",
        "native/datagrams.cc",
        "native/sockets.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        ["OS=='linux' and rxloop_poller!='kqueue'", {"sources": ["native/poller_epoll.cc"]}],
        ["OS=='linux' and rxloop_poller=='kqueue'", {
          "sources": ["native/poller_kqueue.cc"],
          "defines": ["RXLOOP_POLLER_KQUEUE"],
          "cflags": ["<!@(node -p \"process.env.RXLOOP_POLLER_CFLAGS || ''\")"],
          "libraries": ["<!@(node -p \"process.env.RXLOOP_POLLER_LIBS || ''\")"]
        }],
        ["OS in ('mac', 'freebsd', 'openbsd', 'netbsd')", {
          "sources": ["native/poller_kqueue.cc"],
          "defines": ["RXLOOP_POLLER_KQUEUE"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
          }
        }]
      ]
    }
  ]
}
