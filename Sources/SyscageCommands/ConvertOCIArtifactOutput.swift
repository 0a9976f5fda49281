import ArgumentParser
import Foundation
import OutputFiles
import Profiles

/// `convert --to oci-artifact -o DIR`: the OCI image layout directory.
extension ConvertCommand {
  /// DIR, examined before any work: a new directory in an existing one, or an empty
  /// directory (an existing layout or anything else in it is left alone: 73).
  func checkedArtifactDirectory(_ dir: String) throws -> OutputDirectory {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else {
        throw fail("\(dir) is a file; --to oci-artifact writes an OCI image layout directory", code: ExitStatus.usage)
      }
      let present = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
      if !present.isEmpty {
        throw fail(
          "\(dir) is not empty (\(present.sorted().prefix(3).joined(separator: ", "))\(present.count > 3 ? ", ..." : "")); --to oci-artifact writes a new OCI image layout into a new or empty directory, and replaces nothing",
          code: ExitStatus.cantCreate)
      }
    }
    do {
      return try OutputDirectory(dir, files: ["index.json", "oci-layout"], inputs: [profile])
    } catch {
      throw fail(error)
    }
  }

  /// Writes the layout of `json` (the rendered OCI profile) into `dir`; prints its warnings and the manifest digest.
  func writeArtifact(_ json: [UInt8], profile source: Profile, into dir: OutputDirectory) throws {
    let layout = OCIArtifactLayout(json: json, profile: source)
    for w in layout.warnings { printError("syscage: warning: \(displayName): \(w)") }
    // The blobs first (DIR, DIR/blobs and DIR/blobs/sha256 are created), index.json and oci-layout last.
    let prefix = "blobs/"
    let blobs = layout.files.filter { $0.path.hasPrefix(prefix) }
    let top = layout.files.filter { !$0.path.hasPrefix(prefix) }
    do {
      try OutputDirectory(dir.path, files: [], inputs: [profile]).write([])
      try OutputDirectory(dir.path(of: "blobs"), files: blobs.map { String($0.path.dropFirst(prefix.count)) }, inputs: [profile])
        .write(blobs.map(\.bytes))
      try OutputDirectory(dir.path, files: top.map(\.path), inputs: [profile]).write(top.map(\.bytes))
    } catch {
      throw fail(error)
    }
    printError("syscage: wrote an OCI image layout in \(dir.path): \(OCIArtifactLayout.mediaType), manifest \(layout.manifestDigest), tag \(OCIArtifactLayout.tag)")
  }
}
