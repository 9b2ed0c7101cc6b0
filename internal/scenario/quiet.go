package scenario

import (
	"io"
	"log"

	"github.com/go-sql-driver/mysql"
)

// The driver logs every broken pipe to a killed or frozen server on
// stderr; in a lab that kills servers on purpose that is noise, and the
// errors reach the callers anyway.
func init() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) }
