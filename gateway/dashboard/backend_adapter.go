package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/portico-billing/portico/backend"
)

// Backend adapts the tenant backend service to the page's BackendPages.
func Backend(s *backend.Service) BackendPages { return backendPages{s} }

type backendPages struct{ s *backend.Service }

var _ BackendPages = backendPages{}

func mapBackendErr(err error) error {
	switch {
	case errors.Is(err, backend.ErrInvalid):
		return fmt.Errorf("%w: %s", ErrBackendInvalid, strings.TrimPrefix(err.Error(), backend.ErrInvalid.Error()+": "))
	case errors.Is(err, backend.ErrNoBackend):
		return fmt.Errorf("%w: %v", ErrBackendNotFound, err)
	}
	return err
}

func backendView(e *backend.Endpoint) BackendEndpoint {
	return BackendEndpoint{URL: e.URL, UpdatedAt: e.UpdatedAt, PreviousSecretExpiresAt: e.PreviousSecretExpiresAt}
}

func (b backendPages) Backend(ctx context.Context, tenantID string) (BackendEndpoint, bool, error) {
	e, err := b.s.Get(ctx, tenantID)
	if errors.Is(err, backend.ErrNoBackend) {
		return BackendEndpoint{}, false, nil
	}
	if err != nil {
		return BackendEndpoint{}, false, err
	}
	return backendView(e), true, nil
}

func (b backendPages) RegisterBackend(ctx context.Context, tenantID, url string) (BackendEndpoint, string, error) {
	e, secret, err := b.s.Register(ctx, tenantID, url)
	if err != nil {
		return BackendEndpoint{}, "", mapBackendErr(err)
	}
	return backendView(e), secret, nil
}

func (b backendPages) DeleteBackend(ctx context.Context, tenantID string) error {
	return mapBackendErr(b.s.Delete(ctx, tenantID))
}

func (b backendPages) RotateBackendSecret(ctx context.Context, tenantID string) (string, error) {
	s, err := b.s.RotateSecret(ctx, tenantID)
	return s, mapBackendErr(err)
}

// detail is an error's text after its class sentinel's.
func detail(err, class error) string {
	s := err.Error()
	if i := strings.Index(s, class.Error()); i >= 0 {
		s = strings.TrimPrefix(s[i+len(class.Error()):], ": ")
	}
	return s
}

func (b backendPages) PingBackend(ctx context.Context, tenantID string) (BackendTest, error) {
	r, err := b.s.Ping(ctx, tenantID)
	var se *backend.StatusError
	switch {
	case err == nil:
		return BackendTest{Result: string(r.Result), Message: r.Message}, nil
	case errors.Is(err, backend.ErrNoBackend):
		return BackendTest{Failure: "no_backend"}, nil
	case errors.As(err, &se):
		return BackendTest{Failure: "status", Status: se.Code}, nil
	case errors.Is(err, backend.ErrInvalidResponse):
		return BackendTest{Failure: "invalid_response", Detail: detail(err, backend.ErrInvalidResponse)}, nil
	case errors.Is(err, backend.ErrInvalidAccount):
		return BackendTest{Failure: "invalid_account", Detail: detail(err, backend.ErrInvalidAccount)}, nil
	case errors.Is(err, backend.ErrTimeout):
		return BackendTest{Failure: "timeout"}, nil
	case errors.Is(err, backend.ErrForbiddenAddress):
		return BackendTest{Failure: "forbidden_address"}, nil
	case errors.Is(err, backend.ErrUnreachable):
		return BackendTest{Failure: "unreachable"}, nil
	}
	return BackendTest{}, err
}
