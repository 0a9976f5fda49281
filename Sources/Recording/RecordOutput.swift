import Host
import Profiles
import Seccomp
import Syscalls

/// The profile `record` writes: its format, its name (spo, k8s-pod) and its header,
/// which says what was recorded.
public struct RecordOutput: Sendable {
  /// Where it goes (-o): a file, or a directory for k8s-pod.
  public var path: String
  public var format: OutputFormat
  /// The name given (--name); else one is made from `path` or the program.
  public var name: String?
  /// The program recorded (empty when processes were attached to).
  public var program: [String]
  /// The processes attached to.
  public var pids: [Int32]

  public init(path: String, format: OutputFormat, name: String? = nil, program: [String], pids: [Int32] = []) {
    self.path = path
    self.format = format
    self.name = name
    self.program = program
    self.pids = pids
  }

  /// Whether the format names the profile.
  public var isNamed: Bool { format == .spo || format == .k8sPod }

  /// --name, else a Kubernetes name from the base name of `output`, else from the
  /// program's; nil when neither makes one.
  public static func kubernetesName(name: String?, output: String?, program: [String]) -> String? {
    if let name { return name }
    if let output, let derived = KubernetesPodConversion.name(fromPath: output) { return derived }
    if let first = program.first, let derived = KubernetesPodConversion.name(fromPath: first) { return derived }
    return nil
  }

  /// The profile's Kubernetes name (`kubernetesName`); a usage failure (64) when none can be made.
  public func kubernetesName() throws(RecordFailure) -> String {
    guard let name = Self.kubernetesName(name: name, output: path, program: program) else {
      throw RecordFailure("cannot make a Kubernetes name from '\(path)'; give --name", .usage)
    }
    return name
  }

  /// `Recorded by syscage from: ls -l /.` (or `processes 12, 13`).
  public var header: [String] {
    ["Recorded by syscage from: \(program.isEmpty ? "processes " + pids.map(String.init).joined(separator: ", ") : program.joined(separator: " "))."]
  }

  /// `profile` in the format, for the ABIs it lists, with Docker's default container on
  /// this host as the expansion's; a profile the format cannot hold is a data failure (65).
  public func render(_ profile: Profile) throws(RecordFailure) -> RenderedProfile {
    let options = RenderOptions(
      target: ConversionTarget(context: HostFacts.dockerDefault(), arches: profile.architectures), header: header,
      name: isNamed ? try kubernetesName() : nil, command: program.isEmpty ? nil : program)
    do {
      return try ProfileRendering.render(profile, as: format, options: options)
    } catch {
      throw RecordFailure("\(error)", .badInput)
    }
  }
}
