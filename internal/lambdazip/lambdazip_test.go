package lambdazip

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSameInputSameBytesWhateverTheFileTimes(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	os.WriteFile(bin, []byte("\x7fELF not really"), 0o600)
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	if err := Write(a, map[string]string{"bootstrap": bin}); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(bin, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if err := Write(b, map[string]string{"bootstrap": bin}); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if !bytes.Equal(x, y) {
		t.Fatal("two zips of the same file differ")
	}
	zr, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || !zr.File[0].Modified.Equal(epoch) {
		t.Fatalf("entry %+v mode %v", zr.File[0].FileHeader, zr.File[0].Mode())
	}
}

func TestMissingInputIsAnError(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "x.zip"), map[string]string{"bootstrap": "/nonexistent/bootstrap"}); err == nil {
		t.Fatal("no error for a missing binary")
	}
}

// Each function links only the service clients it calls (the SDK's
// credential chain brings sts, sso, ssooidc and signin with it): the
// health monitor RDS, CloudWatch and Secrets Manager; the trigger RDS,
// CloudWatch and SNS. Both used to link EC2, Lambda, Route 53 and SQS
// with the harness's code.
func TestFunctionsLinkOnlyTheClientsTheyCall(t *testing.T) {
	credentialChain := []string{"signin", "sso", "ssooidc", "sts"}
	for fn, want := range map[string][]string{
		"healthmonitor":   {"cloudwatch", "rds", "secretsmanager"},
		"failovertrigger": {"cloudwatch", "rds", "sns"},
	} {
		out, err := exec.Command("go", "list", "-deps", "../../lambda/"+fn).Output()
		if err != nil {
			t.Fatalf("go list -deps lambda/%s: %v", fn, err)
		}
		var got []string
		for _, p := range strings.Fields(string(out)) {
			if svc, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/"); ok && !strings.Contains(svc, "/") && !slices.Contains(credentialChain, svc) {
				got = append(got, svc)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("lambda/%s links the SDK clients %v, want only %v (the ones it calls)", fn, got, want)
		}
	}
}
