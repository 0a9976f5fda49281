import ArgumentParser
import Foundation
import Seccomp

/// Writes a Kubernetes conversion: without a directory, the Pod YAML and the profile as one
/// YAML stream on standard output; with one, DIR/pod.yaml (pod-patch.yaml) and
/// DIR/profiles/NAME.json, each atomically. Says where the profile goes on the nodes.
func writeKubernetes(
  _ pod: KubernetesPodConversion, into dir: String?, inputs: [String], failure: Int32 = ExitStatus.unavailable
) throws {
  guard let dir else {
    FileHandle.standardOutput.write(Data(pod.combined.utf8))
    printError("syscage: copy the profile (after ---) to \(pod.nodePath) on every node")
    return
  }
  var isDirectory: ObjCBool = false
  if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), !isDirectory.boolValue {
    throw fail(
      "\(dir) is a file; the k8s-pod format writes a directory (\(pod.isPatch ? "pod-patch.yaml" : "pod.yaml") and profiles/NAME.json)",
      code: ExitStatus.usage)
  }
  let profilesDir = URL(fileURLWithPath: dir).appendingPathComponent("profiles")
  do {
    try FileManager.default.createDirectory(at: profilesDir, withIntermediateDirectories: true)
  } catch {
    throw fail("cannot create \(profilesDir.path): \(error.localizedDescription)", code: failure)
  }
  let manifestPath = URL(fileURLWithPath: dir).appendingPathComponent(pod.isPatch ? "pod-patch.yaml" : "pod.yaml").path
  let profilePath = profilesDir.appendingPathComponent("\(pod.name).json").path
  try writeOutput(Array(pod.manifest.utf8), to: manifestPath, inputs: inputs, failure: failure)
  try writeOutput(Array(pod.profileJSON.utf8), to: profilePath, inputs: inputs, failure: failure)
  printError("syscage: wrote \(manifestPath) and \(profilePath)")
  printError("syscage: copy the profile to \(pod.nodePath) on every node, e.g. install -D -m 0644 \(profilePath) \(pod.nodePath)")
}
