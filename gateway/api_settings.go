package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// portalSettings is the body of GET and PATCH /v1/portal-settings: the tenant's portal-wide
// settings (what the dashboard's Settings → Portal card edits).
type portalSettings struct {
	// EmailSignIn lets customers sign in on the portal host with their billing email.
	EmailSignIn bool `json:"emailSignIn"`
	// Defaults are the section settings a session gets when its request leaves them out.
	Defaults tenants.PortalDefaults `json:"defaults"`
	// Source is source mode: {"enabled": bool, "ttl": "5m0s"} (the TTL shown with its default).
	Source tenants.SourceSettings `json:"source"`
}

// maxSettingsBody bounds a PATCH /v1/portal-settings body.
const maxSettingsBody = 8 << 10

func settingsOf(t *tenants.Tenant) portalSettings {
	src := t.Source
	src.TTL = tenants.Duration(src.TTLOrDefault())
	return portalSettings{EmailSignIn: t.EmailSignIn, Defaults: t.Portal, Source: src}
}

// apiGetPortalSettings is GET /v1/portal-settings.
func (g *Gateway) apiGetPortalSettings(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	writeJSON(ctx, fasthttp.StatusOK, settingsOf(t))
}

// apiPatchPortalSettings is PATCH /v1/portal-settings: the fields the body names change, the others
// keep their values (a merge, applied to the tenant as stored, so two concurrent PATCHes of
// different fields both land). An unknown field, a wrong type or an invalid value is a 400 that
// changes nothing.
func (g *Gateway) apiPatchPortalSettings(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	body, ok := putBody(ctx, "portal settings", maxSettingsBody)
	if !ok {
		return
	}
	patch, err := decodeSettingsPatch(body)
	if err != nil {
		writeProblem(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	var bad error
	next, err := g.store.UpdateTenant(web.Detach(ctx), t.ID, func(cur *tenants.Tenant) error {
		if patch.EmailSignIn != nil {
			cur.EmailSignIn = *patch.EmailSignIn
		}
		if patch.Defaults != nil {
			d, err := mergeDefaults(cur.Portal, patch.Defaults)
			if err != nil {
				bad = err
				return err
			}
			cur.Portal = d
		}
		if patch.Source != nil {
			src, err := mergeSource(cur.Source, patch.Source)
			if err != nil {
				bad = err
				return err
			}
			cur.Source = src
		}
		return nil
	}, nil)
	switch {
	case bad != nil:
		writeProblem(ctx, fasthttp.StatusBadRequest, bad.Error())
		return
	case errors.Is(err, tenants.ErrSourceNeedsBackend):
		writeProblem(ctx, fasthttp.StatusBadRequest, "source mode needs a registered backend: PUT /v1/backend first")
		return
	case errors.Is(err, tenants.ErrInvalidTenant):
		writeProblem(ctx, fasthttp.StatusBadRequest, strings.TrimPrefix(err.Error(), "tenants: "))
		return
	case err != nil:
		g.apiError(ctx, err)
		return
	}
	g.log.Info("gateway: portal settings changed", "tenant", t.Slug, "by", "apikey:"+key.ID)
	writeJSON(ctx, fasthttp.StatusOK, settingsOf(next))
}

// settingsPatch is a decoded PATCH /v1/portal-settings body; nil fields are left as they are.
type settingsPatch struct {
	EmailSignIn *bool
	Defaults    map[string]json.RawMessage
	Source      map[string]json.RawMessage
}

// decodeSettingsPatch decodes a PATCH body. Field names are matched exactly: encoding/json would
// take "emailsignin" for "emailSignIn", and a client's typo must not change a setting.
func decodeSettingsPatch(body []byte) (settingsPatch, error) {
	var p settingsPatch
	var fields map[string]json.RawMessage
	if err := account.UnmarshalStrict(body, &fields); err != nil {
		return p, err
	}
	if fields == nil {
		return p, fmt.Errorf("the body must be a JSON object")
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := fields[k]
		switch k {
		case "emailSignIn":
			var on bool
			if string(v) == "null" || json.Unmarshal(v, &on) != nil {
				return p, fmt.Errorf("emailSignIn must be true or false")
			}
			p.EmailSignIn = &on
		case "defaults":
			if err := account.UnmarshalStrict(v, &p.Defaults); err != nil || p.Defaults == nil {
				return p, fmt.Errorf("defaults must be an object of settings")
			}
		case "source":
			if err := account.UnmarshalStrict(v, &p.Source); err != nil || p.Source == nil {
				return p, fmt.Errorf("source must be an object: {\"enabled\": true, \"ttl\": \"5m\"}")
			}
		default:
			return p, fmt.Errorf("unknown field %q (known: defaults, emailSignIn, source)", k)
		}
	}
	return p, nil
}

// defaultsFields are the JSON names of tenants.PortalDefaults' fields, from their tags (an
// encoding of a value would leave out the omitempty fields that are off).
var defaultsFields = sync.OnceValue(func() []string {
	var names []string
	t := reflect.TypeFor[tenants.PortalDefaults]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
})

// mergeDefaults applies the fields of patch to cur. A field that PortalDefaults does not have is
// refused by name (its UnmarshalJSON would drop it silently).
func mergeDefaults(cur tenants.PortalDefaults, patch map[string]json.RawMessage) (tenants.PortalDefaults, error) {
	b, _ := json.Marshal(cur)
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(b, &fields)
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		if !slices.Contains(defaultsFields(), k) {
			return cur, fmt.Errorf("unknown field %q in defaults (known: %s)", k, strings.Join(defaultsFields(), ", "))
		}
		if string(patch[k]) == "null" {
			return cur, fmt.Errorf("defaults.%s must not be null", k)
		}
		fields[k] = patch[k]
	}
	b, _ = json.Marshal(fields)
	var d tenants.PortalDefaults
	if err := json.Unmarshal(b, &d); err != nil {
		return cur, fmt.Errorf("defaults: %s", account.DescribeJSONError(err))
	}
	return d, nil
}

// mergeSource applies the fields of patch ("enabled", "ttl", exact names) to cur.
func mergeSource(cur tenants.SourceSettings, patch map[string]json.RawMessage) (tenants.SourceSettings, error) {
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		v := patch[k]
		switch k {
		case "enabled":
			if string(v) == "null" || json.Unmarshal(v, &cur.Enabled) != nil {
				return cur, fmt.Errorf("source.enabled must be true or false")
			}
		case "ttl":
			var d tenants.Duration
			if string(v) == "null" || json.Unmarshal(v, &d) != nil {
				return cur, fmt.Errorf("source.ttl must be a duration such as \"5m\" (%v to %v)", tenants.MinSourceTTL, tenants.MaxSourceTTL)
			}
			if d.D() < tenants.MinSourceTTL || d.D() > tenants.MaxSourceTTL {
				return cur, fmt.Errorf("source.ttl %v is outside %v to %v", d.D(), tenants.MinSourceTTL, tenants.MaxSourceTTL)
			}
			cur.TTL = d
		default:
			return cur, fmt.Errorf("unknown field %q in source (known: enabled, ttl)", k)
		}
	}
	return cur, nil
}
