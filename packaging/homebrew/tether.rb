# The Homebrew formula, rendered by `cargo xtask dist` with the archives' sums.
class Tether < Formula
  desc "Kubernetes port-forwards and shells that survive pod restarts, drops and sleep"
  homepage "@HOMEPAGE@"
  version "@VERSION@"
  license "Apache-2.0"

@PLATFORMS@

  def install
    bin.install "bin/tether", "bin/tetherd", "bin/tether-testkit"
    bin.install_symlink "tether" => "kubectl-tether"
    man1.install Dir["share/man/man1/*.1"]
    bash_completion.install "share/bash-completion/completions/tether"
    zsh_completion.install "share/zsh/site-functions/_tether"
    fish_completion.install "share/fish/vendor_completions.d/tether.fish"
    pkgshare.install "share/tether/systemd", "share/tether/launchd"
  end

  # `brew services start tether`: a launchd agent on macOS, a systemd user unit on Linux. It
  # sees Homebrew's PATH; for kubeconfig credential plugins elsewhere, use
  # `tether daemon install` instead, which records the PATH of the shell it runs in.
  service do
    run [opt_bin/"tetherd", "--log-file"]
    environment_variables PATH: std_service_path_env
    keep_alive successful_exit: false
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/tether --version")
    assert_match version.to_s, shell_output("#{bin}/tetherd --version")
  end
end
