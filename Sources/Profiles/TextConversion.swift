/// A profile converted into a text format, with what the format could not say exactly.
public protocol TextConversion: Sendable {
  /// The converted file.
  var text: String { get }
  /// Where the engine answers otherwise than the profile without the conversion losing
  /// anything (stricter, or a limit of syscage's table), one sentence each.
  var notes: [String] { get }
  /// What the format could not express exactly, one sentence each.
  var warnings: [String] { get }
}

extension SystemdConversion: TextConversion {}
extension NspawnConversion: TextConversion {}
extension LXCConversion: TextConversion {}

extension SPOConversion: TextConversion {
  /// The SeccompProfile YAML.
  public var text: String { yaml }
  /// A SeccompProfile has no notes: what it cannot say is a warning.
  public var notes: [String] { [] }
}
