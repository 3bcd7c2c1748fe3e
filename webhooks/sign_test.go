package webhooks

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification and its reference libraries.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	t.Parallel()
	key, err := ParseSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, specID, time.Unix(specTS, 0), []byte(specBody)); got != specSig {
		t.Errorf("Sign = %s, want %s", got, specSig)
	}
	now := time.Unix(specTS, 0).Add(time.Minute)
	if err := VerifySignature([]string{specSecret}, specID, strconv.Itoa(specTS), specSig, []byte(specBody), now, 0); err != nil {
		t.Errorf("Verify(spec example) = %v", err)
	}
	h := http.Header{}
	h.Set(HeaderID, specID)
	h.Set(HeaderTimestamp, strconv.Itoa(specTS))
	h.Set(HeaderSignature, specSig)
	if err := miniVerify([]string{specSecret}, h, []byte(specBody), now); err != nil {
		t.Errorf("miniVerify(spec example) = %v", err)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	s := NewSecret()
	if !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("secret %q lacks the whsec_ prefix", s)
	}
	k, err := ParseSecret(s)
	if err != nil || len(k) != 32 {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v", len(k), err)
	}
	if NewSecret() == s {
		t.Fatal("two secrets are equal")
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)),
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))} {
		if _, err := ParseSecret(bad); !errors.Is(err, ErrSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrSecret", bad, err)
		}
	}
	if _, err := ParseSecret(strings.TrimPrefix(specSecret, "whsec_")); err != nil {
		t.Errorf("ParseSecret without the prefix: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	oldS, newS, otherS := NewSecret(), NewSecret(), NewSecret()
	oldK, _ := ParseSecret(oldS)
	newK, _ := ParseSecret(newS)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"invoice.paid","timestamp":"2023-11-14T22:13:20Z","data":{"n":1}}`)
	const id = "evt_0001"
	ts := strconv.FormatInt(now.Unix(), 10)
	single := Sign(newK, id, now, body)
	both := SignatureHeader([][]byte{newK, oldK}, id, now, body)
	tests := []struct {
		name        string
		secrets     []string
		id, ts, sig string
		body        []byte
		now         time.Time
		want        error
	}{
		{"round trip", []string{newS}, id, ts, single, body, now, nil},
		{"two signatures, new secret", []string{newS}, id, ts, both, body, now, nil},
		{"two signatures, old secret", []string{oldS}, id, ts, both, body, now, nil},
		{"two secrets, one signature", []string{otherS, newS}, id, ts, single, body, now, nil},
		{"unknown version is skipped", []string{newS}, id, ts, "v2,abc " + single, body, now, nil},
		{"wrong secret", []string{otherS}, id, ts, both, body, now, ErrNoMatchingSignature},
		{"tampered body", []string{newS}, id, ts, single, append([]byte(" "), body...), now, ErrNoMatchingSignature},
		{"tampered id", []string{newS}, "evt_0002", ts, single, body, now, ErrNoMatchingSignature},
		{"tampered timestamp", []string{newS}, id, strconv.FormatInt(now.Unix()+1, 10), single, body, now, ErrNoMatchingSignature},
		{"signature not base64", []string{newS}, id, ts, "v1,###", body, now, ErrNoMatchingSignature},
		{"only v2", []string{newS}, id, ts, strings.Replace(single, "v1,", "v2,", 1), body, now, ErrNoMatchingSignature},
		{"expired", []string{newS}, id, ts, single, body, now.Add(5*time.Minute + time.Second), ErrTimestamp},
		{"from the future", []string{newS}, id, ts, single, body, now.Add(-5*time.Minute - time.Second), ErrTimestamp},
		{"at the tolerance", []string{newS}, id, ts, single, body, now.Add(5 * time.Minute), nil},
		{"timestamp not a number", []string{newS}, id, "soon", single, body, now, ErrTimestamp},
		{"missing id", []string{newS}, "", ts, single, body, now, ErrMissingHeaders},
		{"missing signature", []string{newS}, id, ts, "", body, now, ErrMissingHeaders},
		{"bad secret", []string{"whsec_x"}, id, ts, single, body, now, ErrSecret},
		{"no secret", nil, id, ts, single, body, now, ErrSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tc.secrets, tc.id, tc.ts, tc.sig, tc.body, tc.now, 0)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("VerifySignature = %v, want %v", err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "webhooks: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			// The independent verifier agrees on every signature outcome.
			if tc.want == nil || errors.Is(tc.want, ErrNoMatchingSignature) {
				h := http.Header{}
				h.Set(HeaderID, tc.id)
				h.Set(HeaderTimestamp, tc.ts)
				h.Set(HeaderSignature, tc.sig)
				if merr := miniVerify(tc.secrets, h, tc.body, tc.now); (merr == nil) != (tc.want == nil) {
					t.Errorf("miniVerify = %v, Verify = %v", merr, err)
				}
			}
		})
	}
}
