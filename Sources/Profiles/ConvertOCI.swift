/// The runtime-spec `linux.seccomp` object.
public enum OCIConversion {
  /// The `linux.seccomp` value for `profile`, expanded for `target`.
  public static func seccomp(_ profile: Profile, target: ConversionTarget) -> JSONValue {
    profile.ociExpanded(for: target).json(format: .oci)
  }

  /// As JSON text (tab-indented like Docker's profiles, ending with a newline).
  public static func text(_ profile: Profile, target: ConversionTarget) -> String {
    seccomp(profile, target: target).prettyPrinted() + "\n"
  }
}
