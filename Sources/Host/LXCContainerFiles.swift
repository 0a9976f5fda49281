import Foundation

/// Where an LXC container's files are: LXCPATH/NAME/config, and the policy file
/// `install --lxc` writes next to it, LXCPATH/NAME/syscage.seccomp.
public struct LXCContainerFiles: Sendable, Equatable {
  /// LXC's default lxcpath for root.
  public static let defaultPath = "/var/lib/lxc"
  /// The containers' directory.
  public var lxcpath: String
  /// The container's name.
  public var container: String

  public init(lxcpath: String = LXCContainerFiles.defaultPath, container: String) {
    self.lxcpath = lxcpath
    self.container = container
  }

  /// LXCPATH/NAME/config.
  public var configPath: String { "\(lxcpath)/\(container)/config" }
  /// LXCPATH/NAME/syscage.seccomp.
  public var policyPath: String { "\(lxcpath)/\(container)/syscage.seccomp" }

  /// A name LXC can have as a directory under its lxcpath.
  public static func isValidName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
  }

  /// Why a container's configuration cannot be read.
  public enum Problem: Error, Sendable, Equatable {
    /// No such file: no such container in this lxcpath.
    case noConfig(path: String)
    /// The file is not UTF-8 text.
    case notText(path: String)
  }

  /// The text of the container's configuration.
  public func readConfig() throws(Problem) -> String {
    guard let data = FileManager.default.contents(atPath: configPath) else { throw .noConfig(path: configPath) }
    guard let text = String(data: data, encoding: .utf8) else { throw .notText(path: configPath) }
    return text
  }
}
