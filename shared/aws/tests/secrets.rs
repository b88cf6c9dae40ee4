//! Secrets Manager reads against moto.

use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

#[tokio::test]
async fn reads_a_secret_string_and_names_a_missing_one() {
    let moto = MotoServer::shared().expect("moto");
    let config = aws_sdk_config(moto.endpoint_url());
    let name = unique_name("sluice-admin-password");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&name)
        .secret_string("correct horse battery staple")
        .send()
        .await
        .expect("create secret");
    assert_eq!(
        sluice_aws::read_secret(&config, &name).await.expect("read"),
        "correct horse battery staple"
    );
    let err = sluice_aws::read_secret(&config, "does-not-exist")
        .await
        .expect_err("missing")
        .to_string();
    assert!(
        err.to_lowercase().contains("resourcenotfound") || err.contains("can't find"),
        "{err}"
    );
}
