// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
  name: "syscage",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "syscage", targets: ["syscage"]),
    .library(name: "Syscalls", targets: ["Syscalls"]),
    .library(name: "BPF", targets: ["BPF"]),
    .library(name: "Seccomp", targets: ["Seccomp"]),
    .library(name: "Profiles", targets: ["Profiles"]),
    .library(name: "Host", targets: ["Host"]),
    .library(name: "Enforcement", targets: ["Enforcement"]),
    .library(name: "OutputFiles", targets: ["OutputFiles"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
  ],
  targets: [
    .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),
    .target(name: "Syscalls", swiftSettings: strict),
    .target(name: "BPF", dependencies: ["Syscalls"], swiftSettings: strict),
    .target(name: "Seccomp", dependencies: ["BPF", "Syscalls"], swiftSettings: strict),
    .target(
      name: "Profiles", dependencies: ["Seccomp", "BPF", "Syscalls", .product(name: "Yams", package: "Yams")],
      swiftSettings: strict),
    .target(name: "Host", dependencies: ["Profiles", "Seccomp", "Syscalls", "CLinux"], swiftSettings: strict),
    .target(name: "OutputFiles", swiftSettings: strict),
    .target(
      name: "Processes",
      dependencies: ["Syscalls", "BPF", "Seccomp", "CLinux", .product(name: "SystemPackage", package: "swift-system")],
      swiftSettings: strict),
    .target(name: "Enforcement", dependencies: ["Syscalls", "BPF", "Seccomp", "Profiles", "Host", "Processes", "CLinux"], swiftSettings: strict),
    .target(name: "Inspection", dependencies: ["Syscalls", "BPF", "Seccomp", "Profiles", "Host", "CLinux"], swiftSettings: strict),
    .target(name: "Recording", dependencies: ["Syscalls", "BPF", "Seccomp", "Profiles", "Host", "Processes", "CLinux"], swiftSettings: strict),
    .target(name: "SyscallTableGenerator", swiftSettings: strict),
    .executableTarget(
      name: "generate-syscall-tables",
      dependencies: ["SyscallTableGenerator"],
      swiftSettings: strict),
    .target(
      name: "SyscageCommands",
      dependencies: [
        "Syscalls", "BPF", "Seccomp", "Profiles", "Host", "Processes", "Enforcement", "Inspection", "Recording", "OutputFiles", "CLinux",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict),
    .executableTarget(name: "syscage", dependencies: ["SyscageCommands"], swiftSettings: strict),
    .executableTarget(
      name: "derive-runtime-calls",
      dependencies: ["Recording", "Enforcement", "Processes", "BPF", "Seccomp", "Profiles", "Host", "Syscalls"],
      path: "Sources/DeriveRuntimeCalls",
      swiftSettings: strict),
    .executableTarget(
      name: "sandbox-self",
      dependencies: ["Enforcement", "Seccomp", "Profiles", "Host"],
      path: "Examples/SandboxSelf",
      swiftSettings: strict),
    .executableTarget(
      name: "compiler-benchmark",
      dependencies: ["BPF", "Seccomp", "Profiles", "Host", "Syscalls", "CBench"],
      path: "Benchmarks/CompilerBenchmark",
      swiftSettings: strict),
    .executableTarget(
      name: "record-benchmark",
      dependencies: ["Recording", "Seccomp", "Profiles", "Host", "Syscalls", "Enforcement"],
      path: "Benchmarks/RecordBenchmark",
      swiftSettings: strict),
    .executableTarget(
      name: "record-stability",
      path: "Benchmarks/RecordStability",
      swiftSettings: strict),
    .executableTarget(
      name: "scaling-benchmark",
      dependencies: ["TestSupport"],
      path: "Benchmarks/ScalingBenchmark",
      swiftSettings: strict),
    .executableTarget(
      name: "container-start",
      dependencies: ["TestSupport"],
      path: "Benchmarks/ContainerStart",
      swiftSettings: strict),
    .target(name: "CBench", path: "Benchmarks/CBench", cSettings: [.define("_GNU_SOURCE")]),
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .target(name: "CTestSupport", path: "Tests/CTestSupport"),
    .testTarget(
      name: "SyscallsTests",
      dependencies: ["Syscalls", "SyscallTableGenerator", "CTestSupport", "TestSupport"],
      exclude: ["libseccomp_resolve.py"],
      swiftSettings: strict),
    .target(
      name: "ProfileCorpus", dependencies: ["Profiles", "Host", "Seccomp", "Syscalls", "TestSupport"], path: "Tests/ProfileCorpus",
      swiftSettings: strict),
    .testTarget(name: "BPFTests", dependencies: ["BPF", "Seccomp", "Profiles", "Syscalls"], swiftSettings: strict),
    .testTarget(
      name: "SeccompTests",
      dependencies: ["BPF", "Seccomp", "Profiles", "Host", "Syscalls", "CLinux", "TestSupport", "ProfileCorpus"],
      swiftSettings: strict),
    .testTarget(
      name: "ProfilesTests",
      dependencies: ["Profiles", "Host", "Seccomp", "BPF", "Syscalls", "TestSupport", "ProfileCorpus"],
      exclude: ["Fixtures", "FuzzCorpus"],
      swiftSettings: strict),
    .testTarget(
      name: "EnforcementTests",
      dependencies: ["Enforcement", "Processes", "BPF", "Seccomp", "Profiles", "Host", "Syscalls", "TestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "SyscageTests",
      dependencies: ["BPF", "Seccomp", "Profiles", "Host", "TestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "InspectionTests",
      dependencies: ["Inspection", "BPF", "Seccomp", "Profiles", "Host", "Syscalls", "CLinux", "TestSupport"],
      swiftSettings: strict),
    .testTarget(name: "ArchitectureTests", swiftSettings: strict),
    .testTarget(
      name: "SyscageCommandsTests",
      dependencies: [
        "SyscageCommands", "Enforcement", "Recording", "Profiles", "Seccomp", "Syscalls",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict),
    .testTarget(
      name: "RecordingTests",
      dependencies: ["Recording", "Enforcement", "Processes", "BPF", "Seccomp", "Profiles", "Host", "Syscalls", "TestSupport"],
      swiftSettings: strict),
  ]
)
