package ociimage

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The runner image: what a scheduled drill runs from (ECS on AWS, the
// twin's ECS here). Its user is not root, it has no shell and no package
// manager: the static binaries side by side, as `make build` lays them
// out (drdrill finds ginkgo and drill.test beside itself), the CA
// certificates the AWS SDK verifies its endpoints with, and a home.
const (
	RunnerUID  = 65532
	RunnerUser = "drdrill"
	RunnerHome = "/home/drdrill"
	BinDir     = "/usr/local/bin"
	CACerts    = "/etc/ssl/certs/ca-certificates.crt"
)

// RunnerBinaries are the runner's executables, built for its platform
// with CGO_ENABLED=0 (static: the image has no C library).
var RunnerBinaries = []string{"drdrill", "ginkgo", "drill.test"}

// RunnerSpec is the runner image for one platform: binDir holds the
// platform's RunnerBinaries, caFile the CA bundle (Debian's
// /etc/ssl/certs/ca-certificates.crt), revision the commit they were
// built from (a label; "" leaves it out).
func RunnerSpec(platform v1.Platform, binDir, caFile, revision string) (Spec, error) {
	if _, err := os.Stat(caFile); err != nil {
		return Spec{}, fmt.Errorf("CA certificates %s: %w (on Debian: apt-get install ca-certificates)", caFile, err)
	}
	base := []File{
		{Path: "/etc/passwd", Mode: 0o644, Body: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", RunnerUser, RunnerUID, RunnerUID, RunnerUser, RunnerHome))},
		{Path: "/etc/group", Mode: 0o644, Body: []byte(fmt.Sprintf("root:x:0:\n%s:x:%d:\n", RunnerUser, RunnerUID))},
		// Go's resolver reads it; without it a container's /etc/hosts is
		// consulted after DNS.
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Body: []byte("hosts: files dns\n")},
		{Path: CACerts, Mode: 0o644, Source: caFile},
		{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		{Path: RunnerHome, Dir: true, Mode: 0o755, Uid: RunnerUID, Gid: RunnerUID},
	}
	var bins []File
	for _, b := range RunnerBinaries {
		src := filepath.Join(binDir, b)
		if _, err := os.Stat(src); err != nil {
			return Spec{}, fmt.Errorf("%s for %s is not built in %s: run `make image`", b, platform.String(), binDir)
		}
		bins = append(bins, File{Path: BinDir + "/" + b, Mode: 0o755, Source: src})
	}
	labels := map[string]string{"org.opencontainers.image.title": "drdrill",
		"org.opencontainers.image.description": "drdrill's scheduled drill runner: drdrill, ginkgo and the compiled drill suite"}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	return Spec{
		Platform: platform, Layers: [][]File{base, bins},
		User:       fmt.Sprintf("%d:%d", RunnerUID, RunnerUID),
		Entrypoint: []string{BinDir + "/drdrill"}, Cmd: []string{"help"},
		Env:        []string{"PATH=" + BinDir, "HOME=" + RunnerHome, "SSL_CERT_FILE=" + CACerts},
		WorkingDir: RunnerHome, Labels: labels,
	}, nil
}
