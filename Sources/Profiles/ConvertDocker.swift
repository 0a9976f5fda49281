/// Docker's profile JSON, normalized.
public enum DockerConversion {
  /// The profile re-encoded in Docker's key order and layout; with `expandFor`, only
  /// the entries that apply on that target, `architectures` resolved, and only the names
  /// that make a rule there.
  public static func text(_ profile: Profile, expandFor target: ConversionTarget? = nil) -> String {
    guard let target else { return profile.encode(format: .docker) }
    var p = profile.expanded(for: target.context)
    p.architectures = target.filterArches(of: profile)
    return p.withoutNamesWithoutRule(on: p.architectures ?? []).encode(format: .docker)
  }
}
