from django.urls import path

from testing.views import field, lab, ledgers, resident, rounds, staff, station

app_name = "testing"
urlpatterns = [
    path("", rounds.index, name="index"),
    path("rounds/new/", rounds.round_create, name="round_create"),
    path("rounds/<int:pk>/", rounds.round_detail, name="round"),
    path("rounds/<int:pk>/close/", rounds.round_close, name="round_close"),
    path("rounds/<int:pk>/sites/new/", rounds.site_create, name="site_create"),
    path("rounds/<int:pk>/coverage/", rounds.coverage, name="coverage"),
    path("rounds/<int:pk>/ledger.csv", ledgers.round_ledger, name="round_ledger"),
    path("rounds/<int:pk>/calls/", field.call_list, name="calls"),
    path("rounds/<int:pk>/households/<int:household_pk>/", field.household, name="household"),
    path("rounds/<int:pk>/households/<int:household_pk>/call/", field.call_record, name="call_record"),
    path("rounds/<int:pk>/people/<int:person_pk>/<str:action>/", field.person_action, name="person_action"),
    path("rounds/<int:pk>/home/", field.home_list, name="home_list"),
    path("rounds/<int:pk>/home/flagged/", field.home_flagged, name="home_flagged"),
    path("rounds/<int:pk>/home/<int:request_pk>/close/", field.home_close, name="home_close"),
    path("rounds/<int:pk>/teams/", staff.home_teams, name="home_teams"),
    path("teams/<int:team_pk>/", staff.home_team, name="home_team"),
    path("teams/<int:team_pk>/members/<int:user_pk>/remove/", staff.home_team_member_remove, name="home_team_leave"),
    path("rechecks/", field.rechecks, name="rechecks"),
    path("sites/<int:site_pk>/ledger.csv", ledgers.site_ledger, name="site_ledger"),
    path("sites/<int:site_pk>/staff/", staff.site_staff, name="site_staff"),
    path("sites/<int:site_pk>/staff/<int:user_pk>/remove/", staff.site_staff_remove, name="site_staff_remove"),
    path("station/", station.station_index, name="station_index"),
    path("station/<int:site_pk>/", station.station, name="station"),
    path("lab/", lab.lab_home, name="lab"),
    path("lab/ledger.csv", ledgers.lab_ledger, name="lab_ledger"),
    path("lab/corrections/", lab.correction_request, name="correction_request"),
    path("lab/corrections/<int:pk>/<str:decision>/", lab.correction_decide, name="correction_decide"),
    path("lab/exceptions/<int:pk>/resolve/", lab.exception_resolve, name="exception_resolve"),
    path("near/", resident.sites_near, name="sites_near"),
]
