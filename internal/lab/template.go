package lab

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Credentials are the lab's MariaDB users. They exist only in the lab's
// template datadir on this machine.
type Credentials struct {
	AdminUser     string `json:"admin_user"`
	AdminPassword string `json:"admin_password"`
	ReplUser      string `json:"repl_user"`
	ReplPassword  string `json:"repl_password"`
	AppUser       string `json:"app_user"`
	AppPassword   string `json:"app_password"`
}

// Template is an initialised datadir, made once per machine and MariaDB
// version and copied for every server incarnation (a copy takes well under a
// second; mariadb-install-db takes seconds).
type Template struct {
	DataDir string
	Creds   Credentials
}

// templateVersion changes whenever the users or grants below change, so an
// old cached template is never used with new expectations.
const templateVersion = "3"

// CacheDir is where templates are kept: $DRDRILL_CACHE_DIR, else the user cache dir.
func CacheDir() string {
	if d := os.Getenv("DRDRILL_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "drdrill")
	}
	return filepath.Join(os.TempDir(), "drdrill-cache")
}

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// EnsureTemplate returns the cached template for these binaries, building it
// under a file lock if it is missing, so concurrent labs build it once.
func EnsureTemplate(bins Binaries, cacheDir string) (Template, error) {
	sum := sha256.Sum256([]byte(bins.Version + "\x00" + templateVersion))
	dir := filepath.Join(cacheDir, "template-"+hex.EncodeToString(sum[:6]))
	if t, err := loadTemplate(dir); err == nil {
		return t, nil
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return Template{}, fmt.Errorf("template cache %s: %w (set DRDRILL_CACHE_DIR to a writable directory)", cacheDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "template.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return Template{}, fmt.Errorf("template lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return Template{}, fmt.Errorf("template lock: %w", err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if t, err := loadTemplate(dir); err == nil {
		return t, nil // another process built it while we waited
	}
	tmp, err := os.MkdirTemp(cacheDir, "building-")
	if err != nil {
		return Template{}, err
	}
	defer os.RemoveAll(tmp)
	creds := Credentials{
		AdminUser: "drdrill_admin", AdminPassword: randomSecret(),
		ReplUser: "drdrill_repl", ReplPassword: randomSecret(),
		AppUser: "drdrill_app", AppPassword: randomSecret(),
	}
	// Bootstrap mode skips the grant tables; FLUSH PRIVILEGES loads them so
	// that CREATE USER works. The app user gets no admin privilege at all:
	// read_only must fence it.
	users := fmt.Sprintf(`FLUSH PRIVILEGES;
CREATE USER '%[1]s'@'%%' IDENTIFIED BY '%[2]s';
GRANT ALL PRIVILEGES ON *.* TO '%[1]s'@'%%' WITH GRANT OPTION;
CREATE USER '%[3]s'@'%%' IDENTIFIED BY '%[4]s';
GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%[3]s'@'%%';
CREATE USER '%[5]s'@'%%' IDENTIFIED BY '%[6]s';
GRANT SELECT, INSERT, UPDATE, DELETE ON drdrill.* TO '%[5]s'@'%%';
`, creds.AdminUser, creds.AdminPassword, creds.ReplUser, creds.ReplPassword, creds.AppUser, creds.AppPassword)
	usersFile := filepath.Join(tmp, "users.sql")
	if err := os.WriteFile(usersFile, []byte(users), 0o600); err != nil {
		return Template{}, err
	}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(tmp, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
		"--extra-file=" + usersFile, "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.Command(bins.InstallDB, args...).CombinedOutput()
	if err != nil {
		return Template{}, fmt.Errorf("%s failed: %w\n%s", bins.InstallDB, err, tail(string(out), 2000))
	}
	if err := os.Remove(usersFile); err != nil {
		return Template{}, err
	}
	cj, _ := json.MarshalIndent(creds, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "credentials.json"), cj, 0o600); err != nil {
		return Template{}, err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return Template{}, fmt.Errorf("template: %w", err)
	}
	return loadTemplate(dir)
}

func loadTemplate(dir string) (Template, error) {
	b, err := os.ReadFile(filepath.Join(dir, "credentials.json"))
	if err != nil {
		return Template{}, err
	}
	var t Template
	if err := json.Unmarshal(b, &t.Creds); err != nil {
		return Template{}, fmt.Errorf("template %s: corrupt credentials.json: %w", dir, err)
	}
	t.DataDir = filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(t.DataDir, "mysql")); err != nil {
		return Template{}, err
	}
	return t, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
