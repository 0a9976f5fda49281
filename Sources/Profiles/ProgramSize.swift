import BPF
import Seccomp
import Syscalls

/// The length of a profile's filter on each ABI it lists, against the kernel's limit of
/// `BPF.maxInstructions`: a filter longer than that cannot be loaded.
public struct ProgramSize: Sendable, CustomStringConvertible {
  /// One ABI as the native one (the filter then covers every ABI listed with it).
  public struct Length: Sendable, Hashable {
    public var native: Arch
    public var instructions: Int
    public var fits: Bool { instructions <= BPF.maxInstructions }
  }

  /// Per listed ABI, the program's length when loaded on it.
  public var lengths: [Length]

  /// Compiles `profile` once per ABI of `profile.filterArches(native:)`, each as the
  /// native one (with Docker's default capabilities and `kernel` for the expansion).
  public init(profile: Profile, kernel: KernelVersion) {
    var lengths: [Length] = []
    for arch in profile.filterArches(native: .native) {
      let options = PolicyOptions(context: .dockerDefault(native: arch, kernel: kernel))
      let instructions: Int
      do {
        instructions = try Compiler.compile(Policy(profile: profile, options: options)).count
      } catch {
        instructions = error.length
      }
      lengths.append(Length(native: arch, instructions: instructions))
    }
    self.lengths = lengths
  }

  /// Whether the filter can be loaded on every ABI listed.
  public var fits: Bool { lengths.allSatisfy(\.fits) }

  /// The longest program.
  public var longest: Int { lengths.map(\.instructions).max() ?? 0 }

  /// "x86_64 5210, x86 5190 instructions (the kernel takes 4096)".
  public var description: String {
    lengths.map { "\($0.native.name) \($0.instructions)" }.joined(separator: ", ")
      + " instructions (the kernel takes \(BPF.maxInstructions))"
  }
}
