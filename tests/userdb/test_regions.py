from __future__ import annotations

import pytest

from userdb.regions import region_choices, region_recommend


@pytest.mark.parametrize(
    ("host", "region", "provider"),
    [
        ("mydb.c9akciq32.eu-west-1.rds.amazonaws.com", "eu-west-1", "AWS RDS"),
        ("cluster.cluster-ro-abc.us-east-2.rds.amazonaws.com", "us-east-2", "AWS RDS"),
        ("ep-cool-darkness-123456.us-east-2.aws.neon.tech", "us-east-2", "Neon"),
        ("ep-cool-darkness-123456-pooler.ap-southeast-1.aws.neon.tech", "ap-southeast-1", "Neon"),
        ("aws-0-eu-central-1.pooler.supabase.com", "eu-central-1", "Supabase"),
        ("ec2-3-1-2-3.compute-1.amazonaws.com", "us-east-1", "AWS EC2"),
        ("ec2-3-1-2-3.eu-west-1.compute.amazonaws.com", "eu-west-1", "AWS EC2"),
        ("dpg-abc123-a.oregon-postgres.render.com", "us-west-2", "Render"),
        ("blue-dog-123.7tc.aws-us-west-2.cockroachlabs.cloud", "us-west-2", "CockroachDB"),
        ("us-east-1.sql.xata.sh", "us-east-1", "Xata"),
    ],
)
def test_hosts_that_reveal_their_region_get_it_recommended_with_the_reason(host, region, provider):
    recommendation = region_recommend(host)
    assert recommendation is not None
    assert recommendation.region == region
    assert provider in recommendation.reason


@pytest.mark.parametrize(
    "host", ["db.example.com", "db.abcdef.supabase.co", "mydb.xx-nowhere-9.rds.amazonaws.com"]
)
def test_hosts_that_do_not_say_get_no_recommendation(host):
    assert region_recommend(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "::1",
        "[::1]",
        "10.1.2.3",
        "192.168.0.9",
        "db",
        "pg.internal",
        "nas.local",
        "",
    ],
)
def test_a_database_on_this_machine_or_a_private_network_gets_the_gateways_own_region(host, settings):
    recommendation = region_recommend(host)
    assert recommendation is not None
    assert recommendation.region == settings.GATEWAY_REGION
    assert "this machine or a private network" in recommendation.reason


@pytest.mark.parametrize("host", ["8.8.8.8", "db.example.com", "203.0.113.9"])
def test_a_public_host_is_not_taken_for_a_local_one(host):
    assert region_recommend(host) is None


def test_sixteen_regions_and_the_gateways_own_by_default_with_readable_names(settings):
    choices = region_choices()
    assert len(choices) == 17
    assert ("us-east-1", "US East (N. Virginia) (us-east-1)") in choices
    assert choices[0] == (settings.GATEWAY_REGION, f"Where this gateway runs ({settings.GATEWAY_REGION})")


def test_a_region_outside_the_setting_is_not_recommended(settings):
    settings.ACCELERATE_REGIONS = [("us-east-1", "US East (N. Virginia)")]
    assert region_recommend("mydb.abc.eu-west-1.rds.amazonaws.com") is None
