package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/gctune"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// drainTimeout bounds how long shutdown waits for requests in flight.
const drainTimeout = 30 * time.Second

// reloadDebounce folds the burst of events an editor's save makes into one
// reload.
const reloadDebounce = 150 * time.Millisecond

type upFlags struct {
	file      string
	https     string
	http      string
	http3     string
	ephemeral bool
	cacheSize string
	pprof     bool
	noLogs    bool
}

func newUpCmd(g *globals) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Serve a stack (the built-in default stack without -f)",
		Long: strings.TrimSpace(`
Serve the stack in a CloudFormation template (YAML or JSON), or the built-in
default stack when no -f is given. kumo prints where everything listens,
writes <state-dir>/endpoints.json, reloads the template when it changes, and
on SIGINT or SIGTERM drains, flushes every log line and exits.`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return up(cmd.Context(), g, f) },
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "CloudFormation template to serve (default: the built-in stack)")
	cmd.Flags().StringVar(&f.https, "https", runtime.DefaultViewerHTTPS, "viewer HTTPS listener (all distributions)")
	cmd.Flags().StringVar(&f.http, "http", runtime.DefaultViewerHTTP, "viewer HTTP listener (all distributions)")
	cmd.Flags().StringVar(&f.http3, "http3", "", "viewer HTTP/3 (UDP) listener for http3/http2and3 distributions (default: the --https address; off to disable)")
	cmd.Flags().BoolVar(&f.ephemeral, "ephemeral-ports", false, "bind the stack's Listen addresses on free ports instead")
	cmd.Flags().StringVar(&f.cacheSize, "cache-size", "256MiB", "memory bound of the edge cache, all distributions together (e.g. 64MiB, 1GiB)")
	cmd.Flags().BoolVar(&f.pprof, "pprof", false, "serve net/http/pprof under /debug/pprof/ on the admin endpoint (loopback, admin token)")
	cmd.Flags().BoolVar(&f.noLogs, "no-access-logs", false, "write no CloudFront or ALB access and connection logs (for measuring what logging costs)")
	return cmd
}

// loadStack reads the template at path, or the default stack when path is "".
func loadStack(path string, log *slog.Logger) (*model.Stack, error) {
	if path == "" {
		return stack.Parse(stack.DefaultTemplateName, stack.DefaultTemplate(), stack.Options{Logger: log})
	}
	return stack.Load(path, stack.Options{Logger: log})
}

func up(ctx context.Context, g *globals, f upFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	stateDir, err := g.resolvedStateDir()
	if err != nil {
		return err
	}
	if f.file != "" {
		if f.file, err = filepath.Abs(f.file); err != nil {
			return err
		}
	}
	cacheBytes, err := parseSize(f.cacheSize)
	if err != nil {
		return fmt.Errorf("--cache-size: %w", err)
	}
	st, err := loadStack(f.file, log)
	if err != nil {
		return err
	}
	printDoctor(g.stdout, st, f.file)
	// A heap-goal floor: a small cache otherwise collects several times a
	// second, and its pauses are the latency tail (package gctune).
	defer gctune.Floor(gctune.DefaultFloor)()
	rt, err := runtime.Start(ctx, st, runtime.Options{
		StateDir:     stateDir,
		ViewerHTTPS:  f.https,
		ViewerHTTP:   f.http,
		ViewerHTTP3:  f.http3,
		Ephemeral:    f.ephemeral,
		CacheBytes:   cacheBytes,
		Pprof:        f.pprof,
		NoAccessLogs: f.noLogs,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	if err := rt.WaitHealthChecked(hctx); err != nil {
		log.Warn("not every target has been health-checked yet", "err", err)
	}
	cancel()
	ep := rt.Endpoints()
	printIgnored(g.stdout, st)
	printEndpoints(g.stdout, ep)
	if err := rt.WriteEndpoints(); err != nil {
		log.Error("writing endpoints.json", "err", err)
	}

	if f.file != "" {
		go watch(ctx, f.file, log, func() { reload(ctx, g.stdout, rt, f.file, log) })
	}
	<-ctx.Done()
	fmt.Fprintln(g.stdout, "\nkumo: draining and flushing logs …")
	sctx, scancel := context.WithTimeout(context.Background(), drainTimeout)
	defer scancel()
	if err := rt.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(g.stdout, "kumo: stopped; every log line is written")
	return nil
}

// reload applies the template at path; a bad template or a failed apply is
// reported and the running stack stays.
func reload(ctx context.Context, out io.Writer, rt *runtime.Runtime, path string, log *slog.Logger) {
	st, err := stack.Load(path, stack.Options{Logger: log})
	if err == nil {
		printDoctor(out, st, path)
		err = rt.Reload(ctx, st)
	}
	if err != nil {
		fmt.Fprintf(out, "kumo: reload rejected, still serving the previous stack:\n%s\n", indent(err.Error(), "  "))
		return
	}
	if err := rt.WriteEndpoints(); err != nil {
		log.Error("writing endpoints.json", "err", err)
	}
	fmt.Fprintf(out, "kumo: reloaded %s\n", filepath.Base(path))
	printEndpoints(out, rt.Endpoints())
}

// watch calls fn after the file at path changes. It watches the directory, as
// editors often replace a file rather than write it.
func watch(ctx context.Context, path string, log *slog.Logger, fn func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error("cannot watch the stack file; reload is off", "err", err)
		return
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		log.Error("cannot watch the stack file; reload is off", "file", path, "err", err)
		return
	}
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) != path || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			if timer == nil {
				timer = time.AfterFunc(reloadDebounce, func() {
					select {
					case fire <- struct{}{}:
					default:
					}
				})
			} else {
				timer.Reset(reloadDebounce)
			}
		case <-fire:
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				continue // replaced by rename; the Create event follows
			}
			fn()
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			log.Warn("watching the stack file", "err", err)
		}
	}
}

func printIgnored(out io.Writer, st *model.Stack) {
	if len(st.Ignored) > 0 {
		var names []string
		for _, ig := range st.Ignored {
			names = append(names, ig.LogicalID+" ("+ig.Type+")")
		}
		fmt.Fprintf(out, "Ignored (kumo does not serve these types): %s\n\n", strings.Join(names, ", "))
	}
	if len(st.Unemulated) > 0 {
		fmt.Fprintln(out, "Accepted but not emulated:")
		for _, u := range st.Unemulated {
			fmt.Fprintf(out, "  %s:%d: %s: %s\n", filepath.Base(u.File), u.Line, u.Path, u.Effect)
		}
		fmt.Fprintln(out)
	}
}

// printEndpoints prints the table of distributions, load balancers and
// targets, and ready-to-paste curl lines.
func printEndpoints(out io.Writer, ep runtime.Endpoints) {
	src := ep.Source
	if src == "" {
		src = "the built-in default stack (kumo init writes it to a file)"
	}
	fmt.Fprintf(out, "kumo is serving %s\nstate: %s\n\n", src, ep.StateDir)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISTRIBUTION\tDOMAIN\tALIASES\tLOCAL")
	for _, d := range ep.Distributions {
		aliases := strings.Join(d.Aliases, ",")
		if aliases == "" {
			aliases = "-"
		}
		local := "https://" + ep.Viewer.HTTPS + "  http://" + ep.Viewer.HTTP
		if ep.Viewer.HTTP3 != "" && (d.HTTPVersion == "http3" || d.HTTPVersion == "http2and3") {
			local += "  h3 udp/" + ep.Viewer.HTTP3
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\n", d.LogicalID, d.ID, d.DomainName, aliases, local)
	}
	tw.Flush()
	if len(ep.LoadBalancers) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(tw, "LOAD BALANCER\tDNS NAME\tLISTENERS")
		for _, lb := range ep.LoadBalancers {
			var ls []string
			for _, l := range lb.Listeners {
				ls = append(ls, fmt.Sprintf("%s:%d → %s", l.Protocol, l.Port, l.Local))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", lb.Name, lb.DNSName, strings.Join(ls, ", "))
		}
		tw.Flush()
		fmt.Fprintln(out)
		fmt.Fprintln(tw, "TARGET GROUP\tTARGET\tID\tLOCAL\tHEALTH")
		for _, lb := range ep.LoadBalancers {
			for _, t := range lb.Targets {
				health := t.State
				if t.Reason != "" {
					health += " (" + t.Reason + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.TargetGroup, t.Addr, t.ID, t.Local, health)
			}
		}
		tw.Flush()
	}
	if len(ep.Records) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(tw, "ROUTE 53\tTYPE\tVALUE")
		for _, r := range ep.Records {
			v := strings.Join(r.Values, ",")
			if r.Alias != "" {
				v = "ALIAS " + r.Alias
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Type, v)
		}
		tw.Flush()
	}
	fmt.Fprintln(out, "\nTry:")
	for _, d := range ep.Distributions {
		fmt.Fprintf(out, "  curl -i --resolve %s --cacert %s %s\n", d.Resolve, ep.CAFile, d.URL)
	}
	for _, lb := range ep.LoadBalancers {
		for _, l := range lb.Listeners {
			if l.Protocol != "HTTPS" {
				continue
			}
			host, port := splitHostPort(l.Local)
			// Reach the ALB by a name its certificate covers, as a client
			// that checks certificates must.
			if len(l.Names) > 0 && !strings.HasPrefix(l.Names[0], "*") {
				fmt.Fprintf(out, "  curl -i --resolve %s:%s:%s --cacert %s https://%s:%s/   # the ALB directly\n", l.Names[0], port, host, ep.CAFile, l.Names[0], port)
			} else {
				fmt.Fprintf(out, "  curl -i -k --resolve %s:%s:%s https://%s:%s/   # the ALB directly\n", lb.DNSName, port, host, lb.DNSName, port)
			}
		}
	}
	fmt.Fprintf(out, "\nLogs: %s (CloudFront), %s (ALB)\n", ep.Logs["cloudfront"], ep.Logs["alb"])
}

// parseSize reads a byte size: a number with an optional unit B, KiB, MiB
// or GiB (KB, MB, GB are taken as the same powers of two).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: use a positive number with B, KiB, MiB or GiB (like 256MiB)", s)
	}
	return n * mult, nil
}

func splitHostPort(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, ""
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
