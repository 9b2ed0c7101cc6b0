package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client talks to a running lab's supervisor over its unix socket.
type Client struct {
	dir  string
	sock string
	http *http.Client
}

// Connect returns a client for the lab in dir, or an error saying how to start one.
func Connect(dir string) (*Client, error) {
	info, err := ReadInfo(dir)
	if err != nil {
		return nil, err
	}
	c := &Client{dir: dir, sock: info.Socket}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.sock)
		},
	}}
	return c, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lab"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("lab in %s is not answering on %s (%v): is it running? (`drdrill lab status --dir %s`)", c.dir, c.sock, err, c.dir)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("lab %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Status returns the lab's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, "GET", "/v1/status", nil, &s)
	return s, err
}

// Events returns the events after seq.
func (c *Client) Events(ctx context.Context, after int) ([]Event, error) {
	var ev []Event
	err := c.do(ctx, "GET", "/v1/events?after="+url.QueryEscape(strconv.Itoa(after)), nil, &ev)
	return ev, err
}

// Region runs a region operation: kill, freeze, thaw, restart, reseed, fence, rejoin.
func (c *Client) Region(ctx context.Context, region, op string) error {
	return c.do(ctx, "POST", "/v1/regions/"+url.PathEscape(region)+"/"+url.PathEscape(op), nil, nil)
}

// Promote makes region the primary.
func (c *Client) Promote(ctx context.Context, region string, opt PromoteOptions) error {
	return c.do(ctx, "POST", "/v1/promote", struct {
		Region string `json:"region"`
		PromoteOptions
	}{region, opt}, nil)
}

// SetLink changes a link's faults.
func (c *Client) SetLink(ctx context.Context, name string, f LinkFaults) error {
	return c.do(ctx, "POST", "/v1/links/"+url.PathEscape(name), f, nil)
}

// SetControlPath cuts (true) or restores the cross-region control path.
func (c *Client) SetControlPath(ctx context.Context, cut bool) error {
	return c.do(ctx, "POST", "/v1/control-path", map[string]bool{"cut": cut}, nil)
}

// PauseController stops or resumes the failover controller's probing.
func (c *Client) PauseController(ctx context.Context, paused bool) error {
	return c.do(ctx, "POST", "/v1/controller", map[string]bool{"paused": paused}, nil)
}

// Recover heals everything and returns what was done.
func (c *Client) Recover(ctx context.Context) ([]string, error) {
	var out struct{ Did []string }
	err := c.do(ctx, "POST", "/v1/recover", nil, &out)
	return out.Did, err
}

// Failback recovers and moves the primary back to us-east-1.
func (c *Client) Failback(ctx context.Context) ([]string, error) {
	var out struct{ Did []string }
	err := c.do(ctx, "POST", "/v1/failback", nil, &out)
	return out.Did, err
}

// Shutdown asks the supervisor to stop the lab.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, "POST", "/v1/shutdown", nil, nil)
}

// WaitHealthy polls status until the lab is healthy or ctx ends.
func (c *Client) WaitHealthy(ctx context.Context) (Status, error) {
	for {
		st, err := c.Status(ctx)
		if err == nil && st.Healthy {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("lab not healthy: primary %s, regions %+v", st.Primary, st.Regions)
			}
			return st, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
