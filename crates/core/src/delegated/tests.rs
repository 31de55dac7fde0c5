//! Every recorded vector, reproduced byte for byte. Each test names its
//! source; the inputs are the source's own (`key(n)` there is a secret of
//! 32 bytes of `n`).

use serde_json::json;

use super::credential::{
    account_for_root, cert_signing_payload, device_id, device_id_with_nonce, DeviceCredential,
};
use super::governance::{self as gov, Metadata, Role};
use super::keys::SecretKey;
use super::request::{
    body_hash, caller_proof, request_signing_payload, Audience, DeviceSigner, LoginStatement,
    RequestSig,
};
use super::warrant::{canonical_json, intent_hash, Warrant, WarrantTerms};

fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes(&[seed; 32])
}

// ---- core crates/account/src/tests/request_wire_fixture.rs @ad19830e ----
// ---- mero-js src/request/request-sig.test.ts @c3696fc4 ("reproduces core’s recorded encoding exactly")
// ---- calimero-client-py 0.9.0 src/request.rs @e8ed0cdb (it_reproduces_cores_recorded_encoding)

const REQ_METHOD: &str = "GET";
const REQ_PATH: &str = "/admin-api/namespaces";
const REQ_BODY: &[u8] = br#"{"k":"v"}"#;
const REQ_WIRE: &str = concat!(
    "03000000",
    "474554",
    "15000000",
    "2f61646d696e2d6170692f6e616d65737061636573",
    "3b26137eb7b296bdf7d84b9193dd52d1947b2056731f38020f4a3b9b88d95121",
    "00f1536500000000",
    "2cf2536500000000",
    "295cdac7a269f7f773735dcc35511d4174d042aa4c20454b6c14d5c5661a4f2e",
    "6401e8d1dc457040a388359982f2b915fdd8ca56a84d26f2b40867f092013706",
);

#[test]
fn core_request_wire_fixture_body_hash() {
    assert_eq!(
        hex::encode(body_hash(REQ_BODY)),
        "3b26137eb7b296bdf7d84b9193dd52d1947b2056731f38020f4a3b9b88d95121"
    );
}

#[test]
fn core_request_wire_fixture_signing_preimage() {
    let payload = request_signing_payload(
        REQ_METHOD,
        REQ_PATH,
        &body_hash(REQ_BODY),
        1_700_000_000,
        1_700_000_300,
    );
    assert_eq!(
        hex::encode(payload),
        "7ea8e1179b3f364faefbd4b2a18491f90b3b43bf18af1efad740493f934df8f8"
    );
}

#[test]
fn core_request_wire_fixture_encoding_and_mero_js_and_py_090_vectors() {
    // py 0.9.0's vector: key 0x03 x 32, GET /admin-api/namespaces, body
    // {"k":"v"}, iat 1700000000, exp +300. The same bytes core and mero-js pin.
    let sig = RequestSig::sign(
        &key(3),
        REQ_METHOD,
        REQ_PATH,
        REQ_BODY,
        1_700_000_000,
        1_700_000_300,
    );
    let bytes = sig.encode();
    assert_eq!(bytes.len(), 144);
    assert_eq!(hex::encode(&bytes), REQ_WIRE);
    // ...and it reads back.
    assert_eq!(RequestSig::decode(&bytes).unwrap(), sig);
    // mero-js: an empty body still commits, to a different value.
    assert_ne!(body_hash(b""), body_hash(REQ_BODY));
    assert_ne!(body_hash(b""), [0u8; 32]);
    // mero-js / py 0.9.0: HEAD is not GET.
    let head = RequestSig::sign(
        &key(3),
        "HEAD",
        REQ_PATH,
        REQ_BODY,
        1_700_000_000,
        1_700_000_300,
    );
    assert_ne!(head.signature, sig.signature);
}

// ---- core crates/account/src/tests/login_wire_fixture.rs @1b7536b7 ----

const NODE: [u8; 32] = [0x11; 32];
const CHALLENGE: [u8; 32] = [0x22; 32];
const SESSION: [u8; 32] = [0x33; 32];
const WEB_ORIGIN: &str = "https://app.example:8443";
const CODE_SIGNING_ID: &str = "dev.calimero.client";

fn statement(audience: Audience) -> LoginStatement {
    LoginStatement::sign(
        &key(9),
        NODE,
        audience,
        CHALLENGE,
        SESSION,
        1_700_000_000,
        1_700_000_300,
    )
}

#[test]
fn core_login_wire_fixture_preimages() {
    let device = key(9).public_key();
    let preimage = |audience: Audience| {
        hex::encode(LoginStatement::signing_payload_of(
            &NODE,
            &audience,
            &CHALLENGE,
            &SESSION,
            &device,
            1_700_000_000,
            1_700_000_300,
        ))
    };
    assert_eq!(
        preimage(Audience::WebOrigin(WEB_ORIGIN.into())),
        "78114dc2b03a0461cadc4596abdbb9a88d59c6d029687a03e48ac6679065e97e"
    );
    assert_eq!(
        preimage(Audience::CodeSigningId(CODE_SIGNING_ID.into())),
        "0093aaa7317be2e922363d051eabe2437532ff5f66ca00724dd1b8ab157485c4"
    );
    assert_eq!(
        preimage(Audience::Cli),
        "db187d3bf8180886092e31485f11b2648b335352df0cd0ea1d902564f201840a"
    );
    assert_ne!(
        preimage(Audience::WebOrigin(CODE_SIGNING_ID.into())),
        preimage(Audience::CodeSigningId(CODE_SIGNING_ID.into()))
    );
}

#[test]
fn core_login_wire_fixture_web_origin_encoding() {
    let bytes = statement(Audience::WebOrigin(WEB_ORIGIN.into())).encode();
    assert_eq!(bytes.len(), 237);
    assert_eq!(
        hex::encode(&bytes),
        concat!(
            "1111111111111111111111111111111111111111111111111111111111111111",
            "00",
            "18000000",
            "68747470733a2f2f6170702e6578616d706c653a38343433",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "3333333333333333333333333333333333333333333333333333333333333333",
            "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618",
            "00f1536500000000",
            "2cf2536500000000",
            "8302e61afe8f61c8471bc5f8ae9ff13cdd5b3e9bcd793cf8c46acb3ff9592aa4",
            "37c1aae1b1ee9c9514f29b2340d13a547ea5e6cd4b4b65fbf09bafb55f4c7e00",
        )
    );
}

#[test]
fn core_login_wire_fixture_cli_and_code_signing_encodings() {
    let bytes = statement(Audience::Cli).encode();
    assert_eq!(bytes.len(), 209);
    assert_eq!(
        hex::encode(&bytes),
        concat!(
            "1111111111111111111111111111111111111111111111111111111111111111",
            "02",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "3333333333333333333333333333333333333333333333333333333333333333",
            "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618",
            "00f1536500000000",
            "2cf2536500000000",
            "085b4ee049f7f268a35ec1bfdfe779b94f3bda66cbbb48937735f9ab10c0ef71",
            "cad6f5bbb9afc4b2b87b5ee87d06284e3c5bc77a6c541c56e62aa65ace8fdb0b",
        )
    );
    let bytes = statement(Audience::CodeSigningId(CODE_SIGNING_ID.into())).encode();
    assert_eq!(bytes.len(), 232);
    assert!(hex::encode(&bytes).contains("01130000006465762e63616c696d65726f2e636c69656e74"));
    for audience in [
        Audience::WebOrigin(WEB_ORIGIN.into()),
        Audience::CodeSigningId(CODE_SIGNING_ID.into()),
        Audience::Cli,
    ] {
        let signed = statement(audience);
        let decoded = LoginStatement::decode(&signed.encode()).unwrap();
        assert_eq!(decoded, signed);
        assert!(decoded.verify_signature());
    }
}

// ---- core crates/account/src/tests/warrant_wire_fixture.rs @1c060dd9 ----

fn warrant_terms() -> WarrantTerms {
    WarrantTerms {
        context: [0x11; 32],
        author_account: [0x22; 32],
        executor: [0x33; 32],
        executor_key: [0x77; 32],
        release_bytecode_id: [0x44; 32],
        release_version: "1.0.0".into(),
        method: "set".into(),
        intent_hash: intent_hash("set", br#"{"key":"k","value":"v"}"#),
        account_heads: vec![[0x55; 32]],
        governance_floor: vec![[0x66; 32]],
        nonce: 42,
        not_after: 1_700_000_000,
    }
}

#[test]
fn core_warrant_wire_fixture() {
    assert_eq!(
        hex::encode(intent_hash("set", br#"{"key":"k","value":"v"}"#)),
        "dc066cc8524c74dc21714174009df536376e3151f5b92f0a676defde599dbae5"
    );
    // The intent hash from parsed, reordered arguments: canonical JSON.
    let args = json!({"value": "v", "key": "k"});
    assert_eq!(
        intent_hash("set", &canonical_json(&args)),
        intent_hash("set", br#"{"key":"k","value":"v"}"#)
    );
    let warrant = Warrant::sign(&key(7), warrant_terms()).unwrap();
    assert_eq!(
        hex::encode(warrant.signing_payload()),
        "f38e2c9eb7e78025f8797bb34168fe48da95a20320fc62fc2da41e3efd30607c"
    );
    let bytes = warrant.encode();
    assert_eq!(bytes.len(), 392);
    assert_eq!(
        hex::encode(&bytes),
        concat!(
            "1111111111111111111111111111111111111111111111111111111111111111",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
            "3333333333333333333333333333333333333333333333333333333333333333",
            "7777777777777777777777777777777777777777777777777777777777777777",
            "4444444444444444444444444444444444444444444444444444444444444444",
            "05000000",
            "312e302e30",
            "03000000",
            "736574",
            "dc066cc8524c74dc21714174009df536376e3151f5b92f0a676defde599dbae5",
            "01000000",
            "5555555555555555555555555555555555555555555555555555555555555555",
            "01000000",
            "6666666666666666666666666666666666666666666666666666666666666666",
            "2a00000000000000",
            "00f1536500000000",
            "e42f753e1a30657fe036b0c0a07030f3f6d92ea56749921c5a6ae07eb966cb50",
            "1ed439f7a8007dfce0ccb6b5a8b94bdda9f48db9c84f181e9fbaa0d208726b02",
        )
    );
    let decoded = Warrant::decode(&bytes).unwrap();
    assert_eq!(decoded, warrant);
    assert!(decoded.verify_signature());
    let mut tampered = bytes.clone();
    tampered[300] ^= 1;
    assert!(!Warrant::decode(&tampered).unwrap().verify_signature());
}

// ---- core crates/client/src/proof.rs @2989a861 (the chain `proof_auth.rs` verifies) ----

fn proof_credential() -> DeviceCredential {
    credential_with(|account| device_id(account, &[0x22; 16]))
}

/// core's `chain_for(1, ..)` credential, with the device id `mint` derives.
fn credential_with(mint: impl Fn(&[u8; 32]) -> [u8; 32]) -> DeviceCredential {
    let root = key(1);
    let account = account_for_root(2, &root.public_key());
    let device = mint(&account);
    let sign_key = key(51).public_key();
    let kem_key = [9u8; 32];
    let signature = root.sign(&cert_signing_payload(
        &account, &device, &sign_key, &kem_key, 0, 0,
    ));
    DeviceCredential {
        genesis_version: 2,
        root_key: root.public_key(),
        chain: vec![],
        account,
        device,
        sign_key,
        kem_key,
        key_epoch: 0,
        device_epoch: 0,
        signature,
    }
}

const THREE_LINK: &str = "028a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c0000000004cfa21629a77f8cd8ddd3f821ed514009a9f572b2ce8e0a11f5cbb5e25340b09aeef190d5865e90861a94ec2e0b28de56ff7412f13806ff78322eb2d7a7d71d17cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce09090909090909090909090909090909090909090909090909090909090909090000000000000000ffb06b89ad31e732ed1bbec65b9d9c0ba1aead6faa37850432387b56dd69278670f6bb57b945ebe1a83997761ede1faed02bd0e37c7a7f3fbbdf934c14bbbb0e01ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c027777777777777777777777777777777777777777777777777777777777777777d62f016a1efd1e4fdf793eb42cd84471e1ba9f0cf04d1287b5cc71f616287cb817cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce00f153650000000010ff53650000000056554af3cbf04380c22898aa2b15397f526d9dec50ab792b76fd45ca01668488be57b317015d9e4aada80a8dda0367f7390071051e2b3855c5e7eeaf0119520c03000000474554150000002f61646d696e2d6170692f6e616d65737061636573ea5bb92ca52d40a333e56e353225c6a569e2afbcb7a9152aa9727bed602872f900f15365000000002cf2536500000000299cd5a4a5566805c03ff461f68b9609d09ca0c82185fe488b6816a8cc1544e1e863d1a7b62274c7c0a4b30de72ad92e74ad1ebd9350976c6b3961430dfd2e02";
const TWO_LINK: &str = "028a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c0000000004cfa21629a77f8cd8ddd3f821ed514009a9f572b2ce8e0a11f5cbb5e25340b09aeef190d5865e90861a94ec2e0b28de56ff7412f13806ff78322eb2d7a7d71d17cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce09090909090909090909090909090909090909090909090909090909090909090000000000000000ffb06b89ad31e732ed1bbec65b9d9c0ba1aead6faa37850432387b56dd69278670f6bb57b945ebe1a83997761ede1faed02bd0e37c7a7f3fbbdf934c14bbbb0e0003000000474554150000002f61646d696e2d6170692f6e616d65737061636573ea5bb92ca52d40a333e56e353225c6a569e2afbcb7a9152aa9727bed602872f900f15365000000002cf2536500000000299cd5a4a5566805c03ff461f68b9609d09ca0c82185fe488b6816a8cc1544e1e863d1a7b62274c7c0a4b30de72ad92e74ad1ebd9350976c6b3961430dfd2e02";

#[test]
fn core_client_proof_three_link_vector() {
    let credential = proof_credential();
    assert_eq!(credential.verify(), Ok(()));
    let session = LoginStatement::sign(
        &key(51),
        key(7).public_key(),
        Audience::Cli,
        [0x77; 32],
        key(101).public_key(),
        1_700_000_000,
        1_700_000_000 + 3600,
    );
    let signer = DeviceSigner::new(credential, key(101), Some(session)).unwrap();
    assert_eq!(
        signer.proof(REQ_METHOD, REQ_PATH, b"", 1_700_000_000),
        THREE_LINK
    );
}

#[test]
fn core_client_proof_two_link_vector() {
    // core's fixture signs the two-link request with key(101), a key the
    // credential does not certify (the node would refuse it; the bytes are
    // the layout under test), so it is assembled here without DeviceSigner,
    // which refuses such a pair.
    let request = RequestSig::sign(
        &key(101),
        REQ_METHOD,
        REQ_PATH,
        b"",
        1_700_000_000,
        1_700_000_300,
    );
    let bytes = caller_proof(&proof_credential(), None, &request);
    assert_eq!(hex::encode(bytes), TWO_LINK);
    assert!(DeviceSigner::new(proof_credential(), key(101), None).is_err());
}

// ---- mero-js src/request/caller-proof.test.ts @7f962e4e: bytes core's
//      `proof_auth.rs` produced for `chain_for(1, key(7))`, whose device id
//      is core's later `nonce16 ‖ H(...)[..16]` ----

#[test]
fn mero_js_caller_proof_vectors() {
    let credential = credential_with(|account| device_id_with_nonce(account, &[0x22; 16]));
    assert_eq!(credential.verify(), Ok(()));
    assert_eq!(
        credential.to_hex(),
        "028a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c0000000004cfa21629a77f8cd8ddd3f821ed514009a9f572b2ce8e0a11f5cbb5e25340b0222222222222222222222222222222229aeef190d5865e90861a94ec2e0b28de17cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce09090909090909090909090909090909090909090909090909090909090909090000000000000000bba802950e323563e8cef9867dfd562dfbd50e106ccd07c779acf3e4daba6a964e0d1354ee521747c38e0aa9839d9460dbc5a278822ac729e58f62ed8835120f"
    );
    let session = LoginStatement::sign(
        &key(51),
        key(7).public_key(),
        Audience::Cli,
        [0x77; 32],
        key(101).public_key(),
        1_700_000_000,
        1_700_000_000 + 3600,
    );
    let request = RequestSig::sign(
        &key(101),
        REQ_METHOD,
        REQ_PATH,
        b"",
        1_700_000_000,
        1_700_000_300,
    );
    let with = hex::encode(caller_proof(&credential, Some(&session), &request));
    let without = hex::encode(caller_proof(&credential, None, &request));
    let (cred, sess, req) = (
        credential.to_hex(),
        hex::encode(session.encode()),
        hex::encode(request.encode()),
    );
    assert_eq!(with, format!("{cred}01{sess}{req}"));
    assert_eq!(without, format!("{cred}00{req}"));
    // The session and request parts are those of core's client vector.
    assert!(THREE_LINK.ends_with(&format!("01{sess}{req}")));
    let signer = DeviceSigner::new(credential, key(101), Some(session)).unwrap();
    assert_eq!(signer.proof(REQ_METHOD, REQ_PATH, b"", 1_700_000_000), with);
}

// ---- mero-js src/warrant/governance-op-vectors.test.ts @4178cf59
//      (core crates/governance-types/src/tests.rs, core#4272) ----

#[test]
fn mero_js_governance_op_vectors() {
    let a = [0x44; 32];
    let g = [0x55; 32];
    let p = [0x11; 32];
    let c = [0x66; 32];
    let data = [("topic", "rust")];
    let credential = hex::decode(format!(
        "02{}00000000{}{}{}{}0000000001000000{}",
        "77".repeat(32),
        "44".repeat(32),
        "88".repeat(32),
        "99".repeat(32),
        "aa".repeat(32),
        "bb".repeat(64)
    ))
    .unwrap();
    let named = |name| Metadata {
        name: Some(name),
        data: &data,
    };
    let empty = Metadata {
        name: None,
        data: &[],
    };
    let cases: Vec<(&str, gov::GovernanceOp, String, &str)> = vec![
        ("MemberRemoved", gov::member_removed(&a), format!("02{}{}", "44".repeat(32), "00".repeat(36)), "fdc08345155864f7a9481194c7f12b313994b1a95955ee0969422f0147ab2779"),
        ("MemberLeft", gov::member_left(&a), format!("03{}{}", "44".repeat(32), "00".repeat(36)), "05392aaa36e0e7d08fc9150536d1c9906cd6f5445b0afb6cedec2f03938c6b3d"),
        ("MemberRoleSet Admin", gov::member_role_set(&a, Role::Admin), "04444444444444444444444444444444444444444444444444444444444444444400".into(), "79a70a143fb990f2f92478812b0c142ec8e94a75769d415b3e3bbf769168b2bb"),
        ("MemberRoleSet ReadOnly", gov::member_role_set(&a, Role::ReadOnly), "04444444444444444444444444444444444444444444444444444444444444444402".into(), "843978d9ed8c38856a33df18ed3ca9a1e60800b3c0985949ce0db831dd57c75d"),
        ("MemberCapabilitySet 0b1", gov::member_capability_set(&a, 1), "05444444444444444444444444444444444444444444444444444444444444444401000000".into(), "4266c138e10d5aa8837fcb1d1e7bb81b88c215d4ddea5f7ec413c7a87c995758"),
        ("MemberCapabilitySet 231", gov::member_capability_set(&a, 231), "054444444444444444444444444444444444444444444444444444444444444444e7000000".into(), "9225ce03739ea127393321b4b517b5badd05290131e865bd6bb2a5a34af57287"),
        ("DefaultCapabilitiesSet 231", gov::default_capabilities_set(231), "06e7000000".into(), "0bc00f5f7627b34a104b6aa059887c2cf30f59f468711462176f35592fcf95fd"),
        ("ContextDetached", gov::context_detached(&c), "096666666666666666666666666666666666666666666666666666666666666666".into(), "363e49ed17f870151deed61caa14f493fad3f4e1d9c4781f35b21b833a4f2bf3"),
        ("SubgroupVisibilitySet Open", gov::subgroup_visibility_set(true), "0a00".into(), "99d379e4656d5711132d0d44491446ab93480b6ad58bc216aba9358bf693d57b"),
        ("SubgroupVisibilitySet Restricted", gov::subgroup_visibility_set(false), "0a01".into(), "42b90a291fb2b5e5d8a5da5a1096facde5d34c2d3ad92903507e1709434020a1"),
        ("GroupMetadataSet Some", gov::group_metadata_set(&named("general")), "0b010700000067656e6572616c0100000005000000746f7069630400000072757374".into(), "2d789be70265d50780fc8cac9b1c3ff847352fccd2ad36e76ffdc464134d4bc9"),
        ("GroupMetadataSet None", gov::group_metadata_set(&empty), "0b0000000000".into(), "4fc9cfd6f2af5690ff47fc685c8ef1408c2c49f41aac2a2a8151223e5dfe2e1d"),
        ("MemberMetadataSet Some", gov::member_metadata_set(&a, &named("alice")), "0c44444444444444444444444444444444444444444444444444444444444444440105000000616c6963650100000005000000746f7069630400000072757374".into(), "58a5290db3c57d34bb40679071c4739eff0ff81e0e728ff98d707ed570c1eeab"),
        ("MemberMetadataSet None", gov::member_metadata_set(&a, &empty), "0c44444444444444444444444444444444444444444444444444444444444444440000000000".into(), "d682f73eacf1b2b04aa85e1abde1b37c5e16399a5f41b2d385581a0c401db32e"),
        ("ContextMetadataSet Some", gov::context_metadata_set(&c, &named("general")), "0d6666666666666666666666666666666666666666666666666666666666666666010700000067656e6572616c0100000005000000746f7069630400000072757374".into(), "81768a47949bec9245da34acbfc9d90ff8152e65df38026e99691f2d0f4e3f86"),
        ("ContextMetadataSet None", gov::context_metadata_set(&c, &empty), "0d66666666666666666666666666666666666666666666666666666666666666660000000000".into(), "4de9794df28cbcfb3fae1c960eaf4a8244b5f415a1a7506b963ec82c1bf1033d"),
        ("ContextCapabilityGranted 0b1", gov::context_capability_granted(&c, &a, 1), "106666666666666666666666666666666666666666666666666666666666666666444444444444444444444444444444444444444444444444444444444444444401".into(), "af5093cfd553f9431d4c2c6eacc8c5ac90c709d520122fa5420982d2594f0ff1"),
        ("ContextCapabilityRevoked 231", gov::context_capability_revoked(&c, &a, 231), "1166666666666666666666666666666666666666666666666666666666666666664444444444444444444444444444444444444444444444444444444444444444e7".into(), "1ba014f559da55169bdcb663f3cd79b5b6519aecf7a09dc5976b9c28e3cd94fd"),
        ("GroupReparented", gov::group_reparented(&g, &p), "0155555555555555555555555555555555555555555555555555555555555555551111111111111111111111111111111111111111111111111111111111111111".into(), "a52c81b6b15c534a10db72373a4213f0ea75c7b99dbea1c93d510169b804d427"),
        ("GroupDeleted", gov::group_deleted(&g), "0255555555555555555555555555555555555555555555555555555555555555550000000000000000".into(), "b2dd53fba1c8b83ef704de1fcc868cc68d4f74cd2a54cd1db4998213500fddd0"),
        ("MemberJoinedOpen", gov::member_joined_open(&a, &g, &credential), format!("07{}{}{}", "44".repeat(32), "55".repeat(32), hex::encode(&credential)), "b9642890aae8b920d6bd9376e532423b6074becd9eb568843b2de025fd294192"),
    ];
    for (name, op, bytes, hash) in cases {
        assert_eq!(hex::encode(&op.bytes), bytes, "{name}: bytes");
        assert_eq!(hex::encode(op.hash()), hash, "{name}: op hash");
    }
    // mero-js: metadata keys are sorted by their bytes, as a BTreeMap is.
    let ab = [("b", "2"), ("a", "1")];
    let ba = [("a", "1"), ("b", "2")];
    assert_eq!(
        gov::group_metadata_set(&Metadata {
            name: None,
            data: &ab
        }),
        gov::group_metadata_set(&Metadata {
            name: None,
            data: &ba
        })
    );
    // The credential of the MemberJoinedOpen case is core's layout-only
    // fixture: it parses as a credential (and does not verify).
    let parsed = DeviceCredential::decode(&credential).unwrap();
    assert_eq!(parsed.key_epoch, 0);
    assert_eq!(parsed.device_epoch, 1);
    assert!(parsed.verify().is_err());
}

// ---- calimero-client-py src/warrant.rs @59424dfb: a credential captured
//      from `merod account sign-cert --generate` ----

const MEROD_CREDENTIAL: &str = "02b2a942ff4c98718bed76e255987f6d59b1a72d3b2cd2510003e6170ac63a9ffb000000000e2cd2d3dc84e1db5088e32510ca45bc491e4033bbb0f6bbb733bc0c7b7f5e304d0774b93e8028899a745dbe03d7727fa31fc2f060945b5789cb36c23cba380366245580f7aa816a35d1ff324a714355995ef44a72bcd2341e21d9587d16efce973135e50bc7280f06bb32a53a566983cf0f0c8428be4b461df54264f07319540000000000000000e0c3743677508f5cfbe245f043f2d7bc3ba6c88c001464cae581e2e9ec8cb63780f1f5c2a393521a0038b357fffe63092403fa6e0e2ec12da5e96d50692d400f";
const MEROD_SECRET: &str = "4987ccd0fb7ef36bf7f61e8f99fd150d33e6adac47649f23bfd7109c2e36a3ba";
const MEROD_ACCOUNT: &str = "0e2cd2d3dc84e1db5088e32510ca45bc491e4033bbb0f6bbb733bc0c7b7f5e30";

#[test]
fn a_credential_merod_minted_parses_and_verifies() {
    let credential = DeviceCredential::from_hex("credential", MEROD_CREDENTIAL).unwrap();
    assert_eq!(credential.encode().len(), 237);
    assert_eq!(credential.to_hex(), MEROD_CREDENTIAL);
    assert_eq!(hex::encode(credential.account), MEROD_ACCOUNT);
    assert_eq!(credential.verify(), Ok(()));
    let secret = SecretKey::from_hex("device_secret", MEROD_SECRET).unwrap();
    assert_eq!(secret.public_key(), credential.sign_key);
    // Any flipped byte of the certified fields breaks it.
    for at in [1, 40, 80, 120, 180, 236] {
        let mut bytes = credential.encode();
        bytes[at] ^= 1;
        let bad = DeviceCredential::decode(&bytes).unwrap();
        assert!(bad.verify().is_err(), "byte {at}");
    }
    assert!(DeviceCredential::decode(&credential.encode()[..236]).is_err());
    let mut long = credential.encode();
    long.push(0);
    assert!(DeviceCredential::decode(&long).is_err());
}

#[test]
fn canonical_json_is_serde_jsons_sorted_compact_form() {
    let v: serde_json::Value = serde_json::from_str(
        r#"{"z": [3, {"b": 1.0, "a": -0.0}], "a": "é\u0001\"", "m": 1e100, "n": 12345678901234567890}"#,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(canonical_json(&v)).unwrap(),
        r#"{"a":"é\u0001\"","m":1e+100,"n":12345678901234567890,"z":[3,{"a":-0.0,"b":1.0}]}"#
    );
    // Keys sort by bytes: uppercase before lowercase, "a" before "aa".
    let v = json!({"b": 1, "B": 2, "aa": 3, "a": 4});
    assert_eq!(
        canonical_json(&v),
        br#"{"B":2,"a":4,"aa":3,"b":1}"#.to_vec()
    );
}

#[test]
fn secrets_never_show() {
    let k = SecretKey::from_hex("device_secret", MEROD_SECRET).unwrap();
    let shown = format!("{k:?}");
    assert!(!shown.contains(MEROD_SECRET), "{shown}");
    let credential = DeviceCredential::from_hex("credential", MEROD_CREDENTIAL).unwrap();
    let signer = DeviceSigner::new(credential, k, None).unwrap();
    assert!(!format!("{signer:?}").contains(MEROD_SECRET));
    let err = SecretKey::from_hex("device_secret", &MEROD_SECRET.replace('4', "g")).unwrap_err();
    assert!(!err.to_string().contains("987ccd0"), "{err}");
}
