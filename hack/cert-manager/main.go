// A cert-manager controller for Dormant's cluster tests. cert-manager publishes its
// controllers in its main Go module, but not the module of its controller binary
// (cmd/controller), so this starts them the way that binary does: the certificates'
// controllers, the request approver, the CA and self-signed issuers, and ACME's (orders,
// challenges; HTTP-01's self-check asks the nameservers given, as the test's pebble does).
// Built by hack/cert-manager.sh; tooling only, never part of Dormant.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig to reach the apiserver with")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "cert-manager", "where a ClusterIssuer's Secrets are read from")
	solverImage := flag.String("acme-http01-solver-image", "registry.k8s.io/pause:3.10", "the image of HTTP-01's solver pods")
	solverNameservers := flag.String("acme-http01-solver-nameservers", "", "host:port of DNS servers for HTTP-01's self-check, comma-separated")
	flag.Parse()
	logf.InitLogs()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")

	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterResourceNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			// A failed request is tried again soon: a test waits for it.
			CertificateRequestMinimumBackoffDuration: 5 * time.Second,
			CertificateRequestMaximumBackoffDuration: time.Minute,
		},
		SchedulerOptions: controllerpkg.SchedulerOptions{MaxConcurrentChallenges: 60},
		ACMEOptions: controllerpkg.ACMEOptions{
			HTTP01SolverImage:                 *solverImage,
			HTTP01SolverResourceRequestCPU:    resource.MustParse("10m"),
			HTTP01SolverResourceRequestMemory: resource.MustParse("16Mi"),
			HTTP01SolverResourceLimitsCPU:     resource.MustParse("100m"),
			HTTP01SolverResourceLimitsMemory:  resource.MustParse("64Mi"),
			HTTP01SolverNameservers:           splitList(*solverNameservers),
			DNS01CheckRetryPeriod:             10 * time.Second,
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager: %v\n", err)
		os.Exit(1)
	}

	names := make([]string, 0, len(controllerpkg.Known()))
	for name := range controllerpkg.Known() {
		names = append(names, name)
	}
	sort.Strings(names)
	var running sync.WaitGroup
	for _, name := range names {
		controller, err := controllerpkg.Known()[name](factory)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cert-manager: controller %s: %v\n", name, err)
			os.Exit(1)
		}
		running.Add(1)
		go func() {
			defer running.Done()
			if err := controller.Run(2, ctx); err != nil {
				fmt.Fprintf(os.Stderr, "cert-manager: controller %s: %v\n", name, err)
				os.Exit(1)
			}
		}()
	}
	// The informers the controllers asked for are shared by every Context the factory builds.
	shared, err := factory.Build()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager: %v\n", err)
		os.Exit(1)
	}
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	fmt.Fprintf(os.Stderr, "cert-manager: running %v\n", names)
	running.Wait()
}

func splitList(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(text, ",")
}
