import Foundation

/// An OCI bundle on disk: a directory holding the runtime configuration, config.json.
public struct OCIBundleFiles: Sendable, Equatable {
  /// The bundle directory.
  public let bundle: String
  /// BUNDLE/config.json.
  public let configPath: String

  /// Why a bundle's configuration cannot be had.
  public enum Problem: Error, Sendable, Equatable {
    /// The bundle is not a directory (or does not exist).
    case notADirectory(bundle: String)
    /// The directory holds no config.json.
    case noConfig(path: String)
    /// config.json exists but cannot be read.
    case unreadable(path: String)
  }

  /// The bundle at `bundle`: a directory that holds config.json.
  public init(bundle: String) throws(Problem) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: bundle, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw .notADirectory(bundle: bundle)
    }
    let configPath = Self.configPath(of: bundle)
    guard FileManager.default.fileExists(atPath: configPath) else { throw .noConfig(path: configPath) }
    self.bundle = bundle
    self.configPath = configPath
  }

  /// BUNDLE/config.json, whether or not it exists.
  public static func configPath(of bundle: String) -> String {
    URL(fileURLWithPath: bundle).appendingPathComponent("config.json").path
  }

  /// The bytes of config.json.
  public func readConfig() throws(Problem) -> [UInt8] {
    try Self.readConfig(of: bundle)
  }

  /// The bytes of BUNDLE/config.json.
  public static func readConfig(of bundle: String) throws(Problem) -> [UInt8] {
    try readConfig(atPath: configPath(of: bundle))
  }

  /// The bytes of a bundle's config.json at `path`.
  public static func readConfig(atPath path: String) throws(Problem) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
    return [UInt8](data)
  }
}
