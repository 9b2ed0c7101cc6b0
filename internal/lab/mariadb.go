package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the MariaDB programs the lab runs.
type Binaries struct {
	Server    string // mariadbd
	InstallDB string // mariadb-install-db
	Version   string // first line of `mariadbd --version`
}

// ErrNoMariaDB is returned when mariadbd is not installed; its text says how to fix that.
var ErrNoMariaDB = errors.New("mariadbd not found: install MariaDB 10.11 with `apt-get install -y mariadb-server` (as root; `make deps` does it) or put mariadbd on PATH")

// FindBinaries locates mariadbd and mariadb-install-db on PATH and in the
// Debian locations (/usr/sbin is not on a non-root PATH).
func FindBinaries() (Binaries, error) {
	find := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
			for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
				p := filepath.Join(d, n)
				if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
					return p
				}
			}
		}
		return ""
	}
	b := Binaries{Server: find("mariadbd", "mysqld"), InstallDB: find("mariadb-install-db", "mysql_install_db")}
	if p := os.Getenv("DRDRILL_MARIADBD"); p != "" {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return b, fmt.Errorf("$DRDRILL_MARIADBD=%s is not an executable mariadbd: fix or unset it", p)
		}
		b.Server = p
	}
	if b.Server == "" {
		return b, ErrNoMariaDB
	}
	if b.InstallDB == "" {
		return b, fmt.Errorf("mariadb-install-db not found next to %s: reinstall mariadb-server (`apt-get install -y mariadb-server`)", b.Server)
	}
	out, err := exec.Command(b.Server, "--version").Output()
	if err != nil {
		return b, fmt.Errorf("%s --version: %w", b.Server, err)
	}
	b.Version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	return b, nil
}
