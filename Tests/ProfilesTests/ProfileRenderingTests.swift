import Foundation
import Host
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// `ProfileRendering.render`: every output format from one function, the same text as
/// the format's converter, and what a format needs that the options do not give.
@Suite struct ProfileRenderingTests {
  static let target = ConversionTarget(
    context: ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: Corpus.kernel))

  static let profile = Profile(
    defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64],
    syscalls: [
      SyscallEntry(names: ["read", "write", "exit_group"], action: .allow),
      SyscallEntry(names: ["clone3"], action: .errno, errnoRet: 38, comment: "libc falls back"),
    ])

  func text(_ rendered: RenderedProfile) -> String? {
    if case .text(let text) = rendered.content { return text }
    return nil
  }

  @Test func eachFormatIsItsConverter() throws {
    let p = Self.profile, t = Self.target, header = ["Made by a test."]
    let options = RenderOptions(target: t, header: header, name: "app")
    #expect(text(try ProfileRendering.render(p, as: .docker)) == p.encode(format: .docker))
    #expect(text(try ProfileRendering.render(p, as: .oci)) == p.encode(format: .oci))
    #expect(text(try ProfileRendering.render(p, as: .oci, options: RenderOptions(target: t, expand: true))) == OCIConversion.text(p, target: t))
    #expect(text(try ProfileRendering.render(Corpus.dockerDefault, as: .docker, options: RenderOptions(target: t, expand: true)))
      == DockerConversion.text(Corpus.dockerDefault, expandFor: t))
    let systemd = SystemdConversion(profile: p, target: t, header: header)
    let renderedSystemd = try ProfileRendering.render(p, as: .systemd, options: options)
    #expect(text(renderedSystemd) == systemd.text)
    #expect(renderedSystemd.notes == systemd.notes && renderedSystemd.warnings == systemd.warnings)
    #expect(text(try ProfileRendering.render(p, as: .nspawn, options: options)) == NspawnConversion(profile: p, target: t, header: header).text)
    #expect(text(try ProfileRendering.render(p, as: .lxc, options: options)) == (try LXCConversion(profile: p, target: t, header: header)).text)
    #expect(text(try ProfileRendering.render(p, as: .spo, options: options)) == SPOConversion(profile: p, target: t, name: "app", header: header).yaml)
    let pod = try ProfileRendering.render(p, as: .k8sPod, options: options)
    guard case .kubernetes(let conversion) = pod.content else {
      Issue.record("k8s-pod is not a directory's files")
      return
    }
    #expect(conversion.name == "app")
    #expect(KubernetesPodConversion.files(name: "app", patch: false) == ["pod.yaml", "profiles/app.json"])
    #expect(KubernetesPodConversion.files(name: "app", patch: true) == ["pod-patch.yaml", "profiles/app.json"])
    #expect(conversion.fileContents == [Array(conversion.manifest.utf8), Array(conversion.profileJSON.utf8)])
    #expect(pod.bytes == Array(conversion.manifest.utf8))
  }

  /// What the converter warns about is the rendering's warning (SPO has no defaultErrnoRet).
  @Test func warningsComeThrough() throws {
    var p = Self.profile
    p.defaultErrnoRet = 38
    let r = try ProfileRendering.render(p, as: .spo, options: RenderOptions(target: Self.target, name: "app"))
    #expect(r.warnings.contains { $0.contains("defaultErrnoRet 38") }, "\(r.warnings)")
  }

  @Test func whatAFormatNeeds() {
    #expect(throws: ProfileRendering.Failure.self) { try ProfileRendering.render(Self.profile, as: .systemd) }
    #expect(throws: ProfileRendering.Failure.self) { try ProfileRendering.render(Self.profile, as: .spo, options: RenderOptions(target: Self.target)) }
    #expect(throws: ProfileRendering.Failure.self) {
      try ProfileRendering.render(Self.profile, as: .docker, options: RenderOptions(expand: true))
    }
    // LXC's version 1 cannot write a deny-list.
    let denyList = Profile(defaultAction: .allow, architectures: [.x86_64], syscalls: [SyscallEntry(names: ["mount"], action: .errno)])
    do {
      _ = try ProfileRendering.render(denyList, as: .lxc, options: RenderOptions(target: Self.target, lxcVersion: .v1))
      Issue.record("a version 1 deny-list was written")
    } catch {
      #expect(!"\(error)".isEmpty)
    }
  }
}
