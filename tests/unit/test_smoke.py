def test_settings__load__debug_off_by_default(settings):
    assert settings.DEBUG is False
