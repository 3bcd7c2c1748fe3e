package tenants

import (
	"reflect"
	"testing"
	"time"
)

// fill sets every settable field of v to a value other than its zero, recursively.
func fill(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type == reflect.TypeFor[Memo]() {
				continue
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	default:
		t.Fatalf("fill: %s is a %s; teach the test (and clone) about it", path, v.Kind())
	}
}

// TestCloneCopiesEveryField: every update of a tenant starts from clone, so a field clone leaves
// out is dropped by every save of any other setting (RequireTwoFactor was, once).
func TestCloneCopiesEveryField(t *testing.T) {
	t.Parallel()
	var tn Tenant
	fill(t, reflect.ValueOf(&tn).Elem(), "Tenant")
	c := tn.clone()
	typ := reflect.TypeFor[Tenant]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type == reflect.TypeFor[Memo]() {
			continue
		}
		if !reflect.DeepEqual(reflect.ValueOf(tn).Field(i).Interface(), reflect.ValueOf(*c).Field(i).Interface()) {
			t.Errorf("clone drops %s", f.Name)
		}
	}
	c.FrameAncestors[0] = "changed"
	if tn.FrameAncestors[0] == "changed" {
		t.Error("clone shares FrameAncestors")
	}
}
